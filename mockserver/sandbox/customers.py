"""customer/add, customer/update, customer/update_identity and customer/get on
the sandbox's store (rules: profile.py, registration.py).

Decisions where the document is silent:
- add with identifiers of an existing customer updates that customer (the
  document: "an existing identifier updates the other details"); identifiers
  of two different customers in one item fail it with the code of the
  identifier that belongs to the other one (1032/1016/1033).
- customer/get shows user_id when asked (user_id=true) or looked up by it,
  as the document's parameter table says; registered_store, registered_till
  and fraud_details are returned unless the parameter is false.
- customer/get's flags that ask for more data answer it in the shape the
  current reference shows (D104), from the customer doc (seed.yaml, a sandbox
  file): points_summary=true adds tier_expiry_date and points_summaries
  ({points_summary: [...]}, one entry per program), slab_history=true adds
  slab_history ({history: [...]}, newest first), next_slab=true adds next_slab,
  next_slab_serial_number and next_slab_description; a customer without that
  data gets the empty section, as the reference shows for one. The flags no
  source shows an answer for (expiry_schedule, expired_points, promotion_points,
  membership_retention_criteria, optin_status, ndsc_status) add nothing.
- update_identity records a pending change request (kind identity_changes);
  /__capmock/sandbox/identity_changes/<id>/approve applies it, .../reject
  drops it, as the platform's back office does. A new value that already
  belongs to a customer fails at once with 1041; a malformed one with 1042.
"""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox import profile, registration, results
from capmock.mockserver.sandbox.results import (
    each_customer,
    failed,
    find,
    listed,
    outcome,
    status,
    succeeded,
)
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx
from capmock.mockserver.sandbox.views import LOYALTY, fields_node, pick, profile_view

IDENTITY_CHANGES = "identity_changes"
DEFAULT_SECTIONS = ("registered_store", "registered_till", "fraud_details")
# flag -> the customer doc fields it shows, each with its repeated child (None: a value)
FLAG_SECTIONS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "points_summary": (("tier_expiry_date", None), ("points_summaries", "points_summary")),
    "slab_history": (("slab_history", "history"),),
    "next_slab": (("next_slab", None), ("next_slab_serial_number", None),
                  ("next_slab_description", None)),
}


def each_item(call: Call, tx: Tx, act: Any) -> dict[str, Any]:
    """Run act(call, tx, item) for every item; items that failed validation keep their code."""
    return results.each_item(call, lambda item: act(call, tx, item))


# --- customer/add ---------------------------------------------------------------------

def register(call: Call, tx: Tx, item: dict[str, Any]) -> dict[str, Any]:
    rules = call.settings
    code = registration.missing_identifier(call.op.id, rules.required_identifiers, item)
    if not code and registration.outside_window(item.get("registered_on"), call.now,
                                                rules.registration_past_days,
                                                rules.registration_future_days):
        code = outcome(call.op.id, "registered_on_out_of_range")
    if code:
        return failed(call.op.id, item, code)
    found = profile.owners(tx, item)
    if not found:
        customer = tx.insert_customer(profile.new_doc(item, call.timestamp))
    else:
        customer = next(iter(found.values()))
        others = [name for name, c in found.items() if c.id != customer.id]
        code = profile.taken(call.op.id, others[0]) if others else \
            profile.set_identifiers(call.op.id, tx, customer, item, {})
        if code:
            return failed(call.op.id, item, code)
        profile.merge_profile(customer.doc, item, call.timestamp)
        tx.save_customer(customer)
    return {**profile_view(customer), "item_status": succeeded(call.op.id),
            "side_effects": ""}


def add(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, register)


# --- customer/update -------------------------------------------------------------------

def update_one(call: Call, tx: Tx, item: dict[str, Any]) -> dict[str, Any]:
    customer, missing = find(tx, call.op.id, item)
    if customer is None:
        return failed(call.op.id, item, missing)
    rules = call.settings
    may_change = {"mobile": rules.allow_mobile_update, "email": rules.allow_email_update,
                  "external_id": rules.allow_external_id_update}
    code = profile.set_identifiers(call.op.id, tx, customer, item, may_change)
    if code:
        return failed(call.op.id, item, code)
    profile.merge_profile(customer.doc, item, call.timestamp)
    tx.save_customer(customer)
    return {**profile_view(customer), "item_status": succeeded(call.op.id)}


def update(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, update_one)


# --- customer/update_identity ------------------------------------------------------------

def request_change(call: Call, tx: Tx, item: dict[str, Any]) -> dict[str, Any]:
    # all three are required by the schema, so a validated item has them
    name, old, new = (str(item[key]) for key in ("identifier", "old_value", "new_value"))
    change = {"identifier": name, "old_value": old, "new_value": new}
    customer = tx.customer(name, old)
    if customer is None:
        code = outcome(call.op.id, "customer_not_found")
    elif not results.pattern_ok(name, new):
        code = outcome(call.op.id, "identity_change_invalid")
    elif tx.customer(name, new) is not None:
        code = outcome(call.op.id, "identity_change_taken")
    else:
        tx.add_record(customer.id, IDENTITY_CHANGES,
                      {**change, "state": "PENDING", "requested_on": call.timestamp})
        pending = outcome(call.op.id, "identity_change_pending")
        return {**change, "updated": "false", "item_status": status(call.op.id, pending)}
    return {**change, "updated": "false", "item_status": status(call.op.id, code)}


def update_identity(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, request_change)


# --- customer/get ----------------------------------------------------------------------------

def transaction_summaries(tx: Tx, customer: Customer) -> dict[str, Any]:
    summaries = []
    for record in reversed(tx.records(customer.id, "transactions")):
        t = record.doc
        summaries.append({"id": t.get("id", str(record.id)), "number": t.get("number", ""),
                          "type": t.get("type", ""),
                          "created_date": t.get("created_date") or t.get("billing_time", ""),
                          "store": t.get("store") if isinstance(t.get("store"), str) else ""})
    return {"transaction": summaries}


def flag_sections(call: Call, doc: dict[str, Any]) -> dict[str, Any]:
    """What the flags the request set to true add, from the customer doc."""
    out: dict[str, Any] = {}
    for flag, sections in FLAG_SECTIONS.items():
        if call.query.get(flag) != "true":
            continue
        for key, child in sections:
            value = doc.get(key)
            out[key] = (value if isinstance(value, str) else "") if child is None \
                else {child: [dict(v) for v in listed(value) if isinstance(v, dict)]}
    return out


def details(call: Call, tx: Tx, customer: Customer) -> dict[str, Any]:
    doc = customer.doc
    shown_id = call.query.get("user_id") == "true" or results.by_user_id(call.items[0])
    out: dict[str, Any] = {"user_id": customer.user_id} if shown_id else {}
    out.update(pick(doc, ("firstname", "lastname", "mobile", "email", "external_id",
                          *LOYALTY, "registered_on", "updated_on", "type", "source",
                          "registered_by")))
    for section in DEFAULT_SECTIONS:
        if call.query.get(section) != "false" and isinstance(doc.get(section), dict):
            out[section] = doc[section]
    out["custom_fields"] = fields_node(doc.get("custom_fields") or [])
    out["extended_fields"] = fields_node(doc.get("extended_fields") or [])
    out["transactions"] = transaction_summaries(tx, customer)
    out.update(flag_sections(call, doc))
    out["item_status"] = succeeded(call.op.id)
    return out


def get(call: Call, tx: Tx) -> dict[str, Any]:
    data = each_customer(call, tx, details)
    found = sum(1 for i in call.items if i)  # total and success_count, as the sample shows
    answer_status = data["response"]["status"]
    ok = data["response"]["customers"]["customer"]
    ok = ok if isinstance(ok, list) else [ok]
    answer_status["total"] = str(found)
    answer_status["success_count"] = str(sum(i["item_status"]["success"] == "true" for i in ok))
    return data


HANDLERS = {
    "customer_add": add,
    "customer_update": update,
    "customer_update_identity": update_identity,
    "customer_get": get,
}

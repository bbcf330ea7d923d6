"""customer/preferences: Update Customer Preferences (POST) and Fetch Customer
Preferences (GET).

Customer doc key preferences: the customer's preferences, a list of
{name, value} in the order they were first set. They are kept apart from the
profile's custom_fields (customer/add, customer/get): the document calls
preferences custom fields "of the preferences category".

Decisions where the document is vague:
- An update merges by name (case-insensitive, as custom fields merge): a sent
  name replaces that preference's value, the others stay. A field sent
  without a name fails the item with 1017 "Provided Custom Field is invalid".
- The update answer shows the sent preferences with their stored values (as
  the sample shows the two it sent), local_id when sent, and a store block
  when a store was sent: its code and id as sent and status SUCCESS (the
  sandbox knows no store names).
- GET shows user_id only with user_id=true or when named by user_id (the
  sample's comment); a customer without preferences answers 1031.
"""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox.engagement import (
    each_item,
    failure,
    person,
    shows_user_id,
    text,
)
from capmock.mockserver.sandbox.profile import merge_fields
from capmock.mockserver.sandbox.results import listed, one_or_many, outcome, status, succeeded
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx

KEY = "preferences"
ORDER = ("user_id", "mobile", "email", "external_id")


def fields(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"field": one_or_many([{"name": p["name"], "value": text(p.get("value"))}
                                  for p in pairs])}


def store_block(sent: Any) -> dict[str, str] | None:
    if not isinstance(sent, dict):
        return None
    shop = {k: text(sent.get(k)) for k in ("id", "code") if text(sent.get(k))}
    return {**shop, "status": "SUCCESS"} if shop else None


def sent_preferences(item: dict[str, Any]) -> list[dict[str, str]] | None:
    """The sent {name, value} pairs; None when one has no name."""
    node = item.get("custom_fields")
    sent = listed(node.get("field")) if isinstance(node, dict) else []
    pairs = [{"name": text(f.get("name")), "value": text(f.get("value"))}
             for f in sent if isinstance(f, dict)]
    return None if any(not p["name"] for p in pairs) else pairs


def update_one(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    sent = sent_preferences(item)
    if sent is None:
        return failure(call, item, ORDER, outcome(call.op.id, "invalid_custom_field"))
    stored = merge_fields(customer.doc.get(KEY) or [], sent)
    customer.doc[KEY] = stored
    tx.save_customer(customer)
    names = {f["name"].lower() for f in sent}
    out = person(customer, ORDER)
    if isinstance(item.get("local_id"), str):
        out["local_id"] = text(item["local_id"])
    if names:
        out["custom_fields"] = fields([f for f in stored if f["name"].lower() in names])
    shop = store_block(item.get("store"))
    if shop:
        out["store"] = shop
    out["item_status"] = succeeded(call.op.id)
    return out


def update(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, update_one, ORDER)


def preferences_of(call: Call, tx: Tx, customer: Customer,
                   item: dict[str, Any]) -> dict[str, Any]:
    out = person(customer, ORDER if shows_user_id(call, item) else ORDER[1:])
    stored = customer.doc.get(KEY) or []
    if not stored:
        return {**out, "item_status": status(call.op.id, outcome(call.op.id, "no_preferences"))}
    return {**out, "custom_fields": fields(stored), "item_status": succeeded(call.op.id)}


def get(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, preferences_of, ORDER)


HANDLERS = {"customer_preferences_update": update, "customer_preferences_get": get}

"""customer/referrals: Refer Customer (POST) and Retrieve Customer Referral
Details (GET).

Records of kind "referrals": an invitee as the GET shows it (identifier,
invited_on, till, success) plus type (EMAIL/MOBILE, for grouping) and
campaign_token (for the campaign_token filter). Records of kind
"referral_incentives": an incentives/event_type element as the GET shows it
plus campaign_token; the sandbox does not issue incentives, a sandbox file
(seed.yaml) may hold them. Customer doc key referral_code: the customer's code.

Decisions where the document is vague:
- The default campaign (no campaign_token) is the sample's, 12511; any other
  token names a campaign of its own (the sandbox has no campaign set-up, so
  1107/1202-1205 do not occur).
- referral_code is one per customer: the stored one, else 6 characters derived
  from the user id (stable); inviting stores it in the customer doc.
- Every invitee is added (status 100); one the customer already invited in the
  same campaign with the same type is updated, not doubled. invited_on keeps
  the local time as sent ("2016-09-12T15:19:21+05:30" -> "2016-09-12 15:19:21"),
  now (UTC) when absent. The till is the authenticated till (--auth), none
  without authentication; MOBILE invitees get success "true" as in the sample.
- 1206 "Referral type is not supported" cannot occur: the contract allows only
  EMAIL and MOBILE, so another type is rejected by validation (400).
- Referees: customers holding an invitee's email (EMAIL) or mobile (MOBILE),
  other than the referrer, registered on or after the day of the invitation
  (the sample's referees registered hours before their invitation on that
  day). event_type TRANSACTION when they have transactions, else REGISTRATION;
  added_on is their registered_on.
- start_date / end_date filter invitees by invited_on (and so the referees);
  store_code matches the invitee's till code, absent or "all" means every
  till; only_referral_code=true answers the identity and referral_code only.
"""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox.engagement import (
    each_item,
    person,
    text,
    within,
)
from capmock.mockserver.sandbox.results import listed, one_or_many, status, succeeded
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Record, Tx

KIND = "referrals"
INCENTIVES = "referral_incentives"
TRANSACTIONS = "transactions"  # customers.py's kind
INVITEE_ADDED = 100
DEFAULT_CAMPAIGN = "12511"
TYPES = ("EMAIL", "MOBILE")
LOOKUP = {"EMAIL": "email", "MOBILE": "mobile"}
ORDER = ("email", "mobile", "external_id", "id", "firstname", "lastname")
INVITEE = ("identifier", "invited_on", "till", "success")
REFEREE = ("user_id", "firstname", "lastname", "email", "mobile", "external_id")
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_SPACE = 32**6
SCRAMBLE = 0x5DEECE66D  # odd, so distinct ids give distinct codes


def referral_code(customer: Customer) -> str:
    stored = text(customer.doc.get("referral_code"))
    if stored:
        return stored
    n = (customer.id * SCRAMBLE + 11) % CODE_SPACE
    return "".join(CODE_ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(6)))


def campaign(value: Any) -> str:
    return text(value) or DEFAULT_CAMPAIGN


def of_campaign(tx: Tx, customer: Customer, kind: str, token: str) -> list[Record]:
    records = tx.records(customer.id, kind)
    return [r for r in records if campaign(r.doc.get("campaign_token")) == token]


def local_time(value: Any, now: str) -> str:
    """An ISO timestamp as the GET writes it: the local time, without the offset."""
    stamp = text(value)
    return stamp[:19].replace("T", " ") if len(stamp) >= 19 else now


def till(call: Call) -> dict[str, str] | None:
    code = call.settings.auth.split(":", 1)[0] if call.settings.auth else ""
    return {"code": code, "name": code} if code else None


def invite(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    referrals = item.get("referrals")
    if not isinstance(referrals, dict):
        referrals = {}
    token = campaign(referrals.get("campaign_token"))
    stored = {(r.doc.get("type"), r.doc.get("identifier")): r
              for r in of_campaign(tx, customer, KIND, token)}
    groups: dict[str, list[dict[str, Any]]] = {}
    for group in listed(referrals.get("referral_type")):
        kind = text(group.get("type")).upper() if isinstance(group, dict) else ""
        if kind not in TYPES:
            continue
        for sent in listed(group.get("referral")):
            if not isinstance(sent, dict) or not text(sent.get("identifier")):
                continue
            doc = invitee_doc(call, kind, token, sent)
            record = stored.get((kind, doc["identifier"]))
            if record is None:
                stored[(kind, doc["identifier"])] = tx.add_record(customer.id, KIND, doc)
            else:
                record.doc = doc
                tx.save_record(record)
            answer = {k: text(sent[k]) for k in ("id", "name", "identifier", "invited_on")
                      if text(sent.get(k))}
            groups.setdefault(kind, []).append(
                {**answer, "status": status(call.op.id, INVITEE_ADDED)})
    if not text(customer.doc.get("referral_code")):
        customer.doc["referral_code"] = referral_code(customer)
        tx.save_customer(customer)
    out = person(customer, ORDER)
    if groups:
        out["referrals"] = {"referral_type": one_or_many(
            [{"type": kind, "referral": one_or_many(refs)} for kind, refs in groups.items()])}
    out["item_status"] = succeeded(call.op.id)
    return out


def invitee_doc(call: Call, kind: str, token: str, sent: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"identifier": text(sent["identifier"]),
                           "invited_on": local_time(sent.get("invited_on"), call.timestamp)}
    if till(call):
        doc["till"] = till(call)
    if kind == "MOBILE":
        doc["success"] = "true"
    return {**doc, "type": kind, "campaign_token": token}


def add(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, invite, ORDER)


def in_store(doc: dict[str, Any], store_code: str | None) -> bool:
    if not store_code or store_code.lower() == "all":
        return True
    shop = doc.get("till")
    return isinstance(shop, dict) and shop.get("code") == store_code


def referee(tx: Tx, referrer: Customer, invitee: dict[str, Any]) -> dict[str, Any] | None:
    found = tx.customer(LOOKUP[invitee["type"]], invitee.get("identifier"))
    if found is None or found.id == referrer.id:
        return None
    registered = text(found.doc.get("registered_on"))
    if registered[:10] < text(invitee.get("invited_on"))[:10]:
        return None
    event = "TRANSACTION" if tx.records(found.id, TRANSACTIONS) else "REGISTRATION"
    return {"event_type": event, **person(found, REFEREE), "added_on": registered}


def statistics(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    query = call.query
    out = {**person(customer, ORDER), "referral_code": referral_code(customer)}
    if query.get("only_referral_code") == "true":
        return {**out, "item_status": succeeded(call.op.id)}
    token = campaign(query.get("campaign_token"))
    invitees = [r.doc for r in of_campaign(tx, customer, KIND, token)
                if in_store(r.doc, query.get("store_code"))
                and within(text(r.doc.get("invited_on")), query)]
    groups = [{"type": kind, "invitee": one_or_many(
        [{k: d[k] for k in INVITEE if k in d} for d in invitees if d.get("type") == kind])}
        for kind in TYPES if any(d.get("type") == kind for d in invitees)]
    if groups:
        out["invitees"] = {"referral_type": one_or_many(groups)}
    referees: dict[str, dict[str, Any]] = {}
    for doc in invitees:
        found = referee(tx, customer, doc)
        if found is not None:
            referees.setdefault(found["user_id"], found)
    if referees:
        out["referees"] = {"referee": one_or_many(list(referees.values()))}
    incentives = [{k: v for k, v in r.doc.items() if k != "campaign_token"}
                  for r in of_campaign(tx, customer, INCENTIVES, token)]
    if incentives:
        out["incentives"] = {"event_type": one_or_many(incentives)}
    out["item_status"] = succeeded(call.op.id)
    return out


def get(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, statistics, ORDER)


HANDLERS = {"customer_referrals_add": add, "customer_referrals_get": get}

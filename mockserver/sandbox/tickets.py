"""customer/tickets: Create New Ticket (POST) and Retrieve Ticket Details (GET).

Records of kind "tickets": a ticket as Retrieve Ticket Details shows it (code,
status, priority, department, subject, message, custom_fields, reported_from,
type; the ones sent) plus created_on ("YYYY-MM-DD HH:MM:SS", UTC; for the
start_date / end_date filters).

Decisions where the document is vague:
- 1301 "A ticket already exists with the same subject" counts open tickets
  only (open: status other than CLOSED or RESOLVED) with the same subject and
  the same message: the document's two samples show one customer's open
  "points issue" ticket with two messages, so the subject alone is no
  duplicate (and the seeded ticket does not refuse the Create sample).
  Subject and message compare trimmed and case-insensitively, also among the
  tickets of one item.
- An item's tickets are created all or none: one duplicate fails the item.
- A ticket without status is OPEN; a sent ticket_code becomes the ticket's
  code, one the customer's tickets already use fails the item with 1302;
  otherwise the code is 9 characters [0-9a-z] derived from the record id
  (unique, the same on every fresh sandbox).
- GET filters status, priority, department, reported_from and type compare
  case-insensitively, ticket_code exactly; no matching ticket answers 1300
  without a tickets element (the document has no "no tickets" code).
"""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox.engagement import (
    each_item,
    failure,
    person,
    text,
    within,
)
from capmock.mockserver.sandbox.results import listed, one_or_many, outcome, succeeded
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx

KIND = "tickets"
CLOSED = ("CLOSED", "RESOLVED")
FIELDS = ("status", "priority", "department", "subject", "message", "custom_fields",
          "reported_from", "type")
SHOWN = ("code", *FIELDS)
FILTERS = ("status", "priority", "department", "reported_from", "type")
ADD_ORDER = ("email", "mobile", "external_id", "id")
GET_ORDER = ("firstname", "lastname", *ADD_ORDER)
ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
CODE_SPACE = 36**9
SCRAMBLE = 2654435761  # coprime to 36**9, so distinct ids give distinct codes


def generated_code(record_id: int) -> str:
    n = (record_id * SCRAMBLE + 0x5F3759) % CODE_SPACE
    return "".join(ALPHABET[(n // 36**i) % 36] for i in reversed(range(9)))


def is_open(doc: dict[str, Any]) -> bool:
    return text(doc.get("status")).upper() not in CLOSED


def subject_key(doc: dict[str, Any]) -> tuple[str, str]:
    return text(doc.get("subject")).casefold(), text(doc.get("message")).casefold()


def custom_fields(node: Any) -> dict[str, Any] | None:
    fields = [{"name": text(f["name"]), "value": text(f.get("value"))}
              for f in listed(node.get("field") if isinstance(node, dict) else None)
              if isinstance(f, dict) and text(f.get("name"))]
    return {"field": fields} if fields else None


def ticket_doc(sent: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for name in FIELDS:
        value = custom_fields(sent.get(name)) if name == "custom_fields" else text(sent.get(name))
        if value:
            doc[name] = value
    doc.setdefault("status", "OPEN")
    return doc


def shown(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: doc[k] for k in SHOWN if k in doc}
    if "custom_fields" in out:
        out["custom_fields"] = {"field": one_or_many(out["custom_fields"]["field"])}
    return out


def create(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    stored = [r.doc for r in tx.records(customer.id, KIND)]
    open_subjects = {subject_key(d) for d in stored if is_open(d)}
    codes = {d.get("code") for d in stored}
    docs = []
    for sent in listed(item.get("ticket")):
        if not isinstance(sent, dict):
            continue
        doc, code = ticket_doc(sent), text(sent.get("ticket_code"))
        if subject_key(doc) in open_subjects:
            return failure(call, item, ADD_ORDER, outcome(call.op.id, "ticket_exists"))
        if code and code in codes:
            return failure(call, item, ADD_ORDER, outcome(call.op.id, "ticket_not_registered"))
        if is_open(doc):
            open_subjects.add(subject_key(doc))
        codes.add(code)
        docs.append((code, doc))
    created = []
    for code, doc in docs:
        record = tx.add_record(customer.id, KIND, {**doc, "created_on": call.timestamp})
        record.doc = {"code": code or generated_code(record.id), **record.doc}
        tx.save_record(record)
        created.append(shown(record.doc))
    return {**person(customer, ADD_ORDER), "ticket": one_or_many(created),
            "item_status": succeeded(call.op.id)}


def add(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, create, ADD_ORDER)


def matches(doc: dict[str, Any], query: dict[str, str]) -> bool:
    for name in FILTERS:
        wanted = query.get(name)
        if wanted and text(doc.get(name)).casefold() != wanted.strip().casefold():
            return False
    if query.get("ticket_code") and doc.get("code") != query["ticket_code"]:
        return False
    return within(doc.get("created_on", ""), query)


def tickets_of(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    tickets = [shown(r.doc) for r in tx.records(customer.id, KIND) if matches(r.doc, call.query)]
    out = person(customer, GET_ORDER)
    if tickets:
        out["tickets"] = {"ticket": one_or_many(tickets)}
    out["item_status"] = succeeded(call.op.id)
    return out


def get(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, tickets_of, GET_ORDER)


HANDLERS = {"customer_tickets_add": add, "customer_tickets_get": get}

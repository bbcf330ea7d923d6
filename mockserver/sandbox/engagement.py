"""What the engagement handlers share (notes.py, tickets.py, referrals.py,
preferences.py, subscriptions.py): finding the customer an item names,
echoing an item in its operation's shape, the period filters.

Decisions shared by those operations:
- An item without any identifier fails with the operation's "no identifier"
  code (1015; 1104 for subscriptions), as a GET without one does.
- identifier=<value> (the Retrieve Customer Notes sample URL) is tried as
  mobile, email, external_id, then user_id; not found is 1012.
- A failed item echoes the identifiers it sent that are well formed, under
  the names of the operation's customer node (id or user_id).
- Text XML 1.0 cannot carry is refused at the door (400, capmock.openapi.clean);
  should a store made before that hold some, it is shown with U+FFFD in its
  place, so every answer renders in both formats.
- start_date / end_date: "YYYY-MM-DD" means the whole day; both ends count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from capmock.mockserver.sandbox import results
from capmock.mockserver.sandbox.results import (
    IDENTIFIERS,
    day_bound,
    find,
    lookups,
    outcome,
    pattern_ok,
    status,
)
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx
from capmock.openapi import clean
from capmock.openapi.outcomes import code_for

Act = Callable[[Call, Tx, Customer, dict[str, Any]], dict[str, Any]]
ID_NAMES = ("user_id", "id")
NOT_XML = clean.BAD_XML_CHAR
GENERIC_ORDER = ("mobile", "email", "external_id", "user_id")


def text(value: Any) -> str:
    """A value as stored and shown: trimmed, without characters XML 1.0 cannot carry."""
    raw = value if isinstance(value, str) else "" if value is None else str(value)
    return NOT_XML.sub("\ufffd", raw.strip())


def well_formed(name: str, value: Any) -> bool:
    if not isinstance(value, str) or not value.strip() or NOT_XML.search(value):
        return False
    return pattern_ok(name, value)


def echo(item: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """The well-formed identifiers an item sent, named and ordered as `order`
    (the operation's customer node) says; user_id and id stand for each other."""
    sent_id = next((item[n] for n in ID_NAMES if well_formed(n, item.get(n))), None)
    out = {}
    for name in order:
        if name in ID_NAMES:
            if sent_id is not None:
                out[name] = sent_id
        elif name in IDENTIFIERS and well_formed(name, item.get(name)):
            out[name] = item[name]
    return out


def person(customer: Customer, order: tuple[str, ...]) -> dict[str, Any]:
    """The customer's fields named in `order` (id and user_id are the user id)."""
    doc = customer.doc
    return {name: customer.user_id if name in ID_NAMES else text(doc.get(name))
            for name in order}


def find_customer(tx: Tx, op_id: str, item: dict[str, Any]) -> tuple[Customer | None, int]:
    """The customer an item names, or None and the code to answer."""
    if lookups(item):
        return find(tx, op_id, item)
    generic = text(item.get("identifier"))
    if not generic:
        return None, code_for(op_id, "missing_identifier") or outcome(op_id, "customer_not_found")
    for by in GENERIC_ORDER:
        customer = tx.customer(by, generic)
        if customer is not None:
            return customer, 0
    return None, outcome(op_id, "customer_not_found")


def each_item(call: Call, tx: Tx, act: Act, order: tuple[str, ...]) -> dict[str, Any]:
    """act(call, tx, customer, item) for every item whose customer is found;
    items that failed validation keep their code; the body from the results."""
    def answer(item: dict[str, Any]) -> dict[str, Any]:
        customer, code = find_customer(tx, call.op.id, item)
        return failure(call, item, order, code) if customer is None \
            else act(call, tx, customer, item)

    return results.each_item(call, answer, lambda item: echo(item, order))


def failure(call: Call, item: dict[str, Any], order: tuple[str, ...],
            code: int) -> dict[str, Any]:
    return {**echo(item, order), "item_status": status(call.op.id, code)}


def shows_user_id(call: Call, item: dict[str, Any]) -> bool:
    """user_id appears when asked (user_id=true) or when the customer was named by it."""
    return call.query.get("user_id") == "true" or results.by_user_id(item)


# --- periods ---------------------------------------------------------------------------

def bound(value: str | None, end: bool) -> str | None:
    """A start_date / end_date value as a comparable "YYYY-MM-DD HH:MM:SS"."""
    return day_bound(value, end) if value else None


def within(stamp: str, query: dict[str, str]) -> bool:
    """Whether a stored "YYYY-MM-DD HH:MM:SS" lies in the query's period."""
    start, end = bound(query.get("start_date"), False), bound(query.get("end_date"), True)
    return (start is None or stamp >= start) and (end is None or stamp <= end)

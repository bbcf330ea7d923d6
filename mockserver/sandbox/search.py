"""customer/search: the document's query grammar on the sandbox's customers.

    QUERY     := CONDITION ( & CONDITION )*  |  ( CONDITION ( & CONDITION )* )
    CONDITION := ATTRIBUTE:OPERATOR:VALUES | CUSTOM_FIELD:VALUE
    OPERATOR  := STARTS | ENDS | EXACT | RANGE | LESS | GREATER | EQUALS | IN
    VALUES    := VALUE ( ; VALUE )*        (RANGE: low;high, IN: any number)

Decisions where the document is silent:
- EXACT compares case-sensitively, EQUALS, STARTS and ENDS ignore case.
- RANGE is inclusive; LESS and GREATER are strict; numeric attributes compare
  as numbers, dates as "YYYY-MM-DD hh:mm:ss" text (a date alone covers the day).
- `NAME:VALUE` (no operator) and any attribute the grammar does not name
  match a custom field of that name.
- An identifier condition with EQUALS, EXACT or IN is an index lookup; any
  other query scans the customers in id order.
- Results are ordered by user_id; `start` (default 0) and `rows` (default 10)
  page them; `count` is the number of matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from capmock.mockserver.errors import Rejection
from capmock.mockserver.sandbox.results import day_bound
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx
from capmock.openapi import clean, envelope, parameters

OPERATORS = ("STARTS", "ENDS", "EXACT", "RANGE", "LESS", "GREATER", "EQUALS", "IN")
NUMERIC = {"loyalty_points", "lifetime_points", "lifetime_purchases", "last_trans_value",
           "transaction_value", "org_id"}
ATTRIBUTES = {"registered_date": "registered_on", "slab": "current_slab",
              "transaction_value": "last_trans_value"}
PROFILE = {"firstname", "lastname", "mobile", "email", "external_id", "registered_on",
           "loyalty_points", "lifetime_points", "lifetime_purchases", "current_slab",
           "registered_store", "last_trans_value", "org_id"}
INDEXED = {"mobile", "email", "external_id"}
DEFAULT_ROWS = 10
ORG_ID = "0"  # the sandbox is one organisation; org_id:EQUALS:0 finds everyone
SCAN_BATCH = 2000
BAD_REQUEST = 400


@dataclass(frozen=True)
class Condition:
    attribute: str
    operator: str
    values: tuple[str, ...]
    custom: bool


def parse(q: str) -> list[Condition]:
    """The conditions of q (wrapped in parentheses or not: the contract's reading)."""
    return [condition(part) for part in parameters.search_conditions(q).split("&") if part]


def condition(text: str) -> Condition:
    name, _, rest = text.partition(":")
    operator, sep, values = rest.partition(":")
    if not sep or operator not in OPERATORS:
        operator, values = "EQUALS", rest
    attribute = ATTRIBUTES.get(name, name)
    parts = tuple(v for v in values.split(";"))
    if operator == "RANGE" and len(parts) != 2:
        raise Rejection(BAD_REQUEST, f"q: {text!r}: RANGE takes two values, low;high")
    if attribute in NUMERIC and any(number(v) is None for v in parts):
        raise Rejection(BAD_REQUEST, f"q: {text!r}: {name} compares numbers")
    return Condition(attribute, operator, parts, attribute not in PROFILE)


def number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def value_of(customer: Customer, tx: Tx, cond: Condition) -> str:
    doc = customer.doc
    if cond.custom:
        fields = doc.get("custom_fields") or []
        return next((str(f.get("value", "")) for f in fields
                     if f.get("name", "").lower() == cond.attribute.lower()), "")
    if cond.attribute == "registered_store":
        store = doc.get("registered_store")
        return store.get("code", "") if isinstance(store, dict) else ""
    if cond.attribute == "last_trans_value":
        return last_transaction_value(tx, customer)
    if cond.attribute == "org_id":
        return ORG_ID
    value = doc.get(cond.attribute)
    return "" if value is None else str(value)


def compare(cond: Condition) -> Callable[[str], bool]:
    numeric = cond.attribute in NUMERIC
    key: Callable[[str], Any] = (lambda v: number(v) or Decimal(0)) if numeric else str
    low = [key(v) for v in cond.values]
    op = cond.operator
    if op == "EXACT":
        return lambda v: v in cond.values
    if op in ("EQUALS", "IN"):
        wanted = {v.lower() for v in cond.values}
        return (lambda v: number(v) in low) if numeric else (lambda v: v.lower() in wanted)
    if op == "STARTS":
        return lambda v: v.lower().startswith(cond.values[0].lower())
    if op == "ENDS":
        return lambda v: v.lower().endswith(cond.values[0].lower())
    if op == "LESS":
        return lambda v: v != "" and key(v) < low[0]
    if op == "GREATER":
        return lambda v: v != "" and key(v) > low[0]
    upper = low[1] if numeric else day_bound(cond.values[1], end=True)
    return lambda v: v != "" and low[0] <= key(v) <= upper  # RANGE


def last_transaction_value(tx: Tx, customer: Customer) -> str:
    transactions = tx.records(customer.id, "transactions")
    return str(transactions[-1].doc.get("amount", "0")) if transactions else "0"


def candidates(tx: Tx, conditions: list[Condition]) -> Iterator[Customer]:
    for cond in conditions:
        if cond.attribute in INDEXED and cond.operator in ("EQUALS", "EXACT", "IN"):
            yield from tx.customers_where(cond.attribute, list(cond.values))
            return
    after = 0
    while batch := tx.customers_after(after, SCAN_BATCH):
        yield from batch
        after = batch[-1].id


def result_item(tx: Tx, customer: Customer) -> dict[str, Any]:
    doc = customer.doc
    out: dict[str, Any] = {"user_id": customer.user_id, "org_id": ORG_ID}
    for name in ("firstname", "lastname", "mobile", "email", "external_id", "loyalty_points",
                 "lifetime_points", "lifetime_purchases", "current_slab", "registered_on",
                 "registered_by"):
        out[name] = "" if doc.get(name) is None else str(doc[name])
    out["last_trans_value"] = last_transaction_value(tx, customer)
    out["attributes"] = {"attribute": [dict(f) for f in doc.get("custom_fields") or []]}
    return out


def paging(call: Call) -> tuple[int, int]:
    start, rows = call.query.get("start", "0"), call.query.get("rows", str(DEFAULT_ROWS))
    first, count = clean.whole_number(start), clean.whole_number(rows)
    if first is None or count is None:
        raise Rejection(BAD_REQUEST, "start and rows are whole numbers")
    return first, count


def search(call: Call, tx: Tx) -> dict[str, Any]:
    conditions = parse(call.query.get("q", ""))
    start, rows = paging(call)
    tests = [(cond, compare(cond)) for cond in conditions]
    matches = [c for c in candidates(tx, conditions)
               if all(test(value_of(c, tx, cond)) for cond, test in tests)]
    page = [result_item(tx, c) for c in matches[start:start + rows]]
    return {"response": {"status": envelope.status(200), "customer": {
        "count": str(len(matches)), "start": str(start), "rows": str(rows),
        "results": {"item": page} if page else ""}}}


HANDLERS = {"customer_search": search}

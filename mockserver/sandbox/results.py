"""Building answers: item statuses, echoes and whole bodies from the code table,
and the small readings every handler shares (repeated elements, day bounds)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from capmock.mockserver import replay
from capmock.mockserver.sandbox.store import IDENTIFIER_COLUMNS, Customer, Tx
from capmock.openapi import envelope
from capmock.openapi.outcomes import code_for

IDENTIFIERS = IDENTIFIER_COLUMNS
LOOKUP_ORDER = ("user_id", "id", "mobile", "email", "external_id")


@functools.cache
def outcome(op_id: str, kind: str) -> int:
    """The code openapi/rules.yaml gives this operation for a sandbox outcome."""
    code = code_for(op_id, kind)
    if code is None:
        raise LookupError(f"rules.yaml: no code of {kind!r} applies to {op_id}")
    return code


def status(op_id: str, code: int) -> dict[str, str]:
    return envelope.item_status(op_id, code)


def succeeded(op_id: str) -> dict[str, str]:
    return status(op_id, outcome(op_id, "succeeded"))


def echo(item: dict[str, Any]) -> dict[str, Any]:
    """The well-formed identifiers a request item sent, for an item that failed
    (a malformed one is not repeated, so the answer stays valid)."""
    return replay.echo(item)


def failed(op_id: str, item: dict[str, Any], code: int) -> dict[str, Any]:
    return {**echo(item), "item_status": status(op_id, code)}


def body(op_path: tuple[str, ...], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Request-level 200 when every item succeeded, 500 when none did, else 201."""
    code = envelope.batch_code(envelope.item_succeeded(item) for item in items)
    return envelope.item_body(list(op_path), items, code)


def lookups(item: dict[str, Any]) -> list[tuple[str, str]]:
    """(identifier, value) pairs of an item, in the order the service tries them."""
    pairs = []
    for name in LOOKUP_ORDER:
        value = item.get(name)
        if isinstance(value, str | int) and str(value).strip():
            pairs.append(("user_id" if name == "id" else name, str(value).strip()))
    return pairs


def by_user_id(item: dict[str, Any]) -> bool:
    """Does the item name its customer by the user id (user_id=, or id= as the
    current reference and live clients send it)?"""
    return "user_id" in item or "id" in item


def find(tx: Tx, op_id: str, item: dict[str, Any]) -> tuple[Customer | None, int]:
    """The customer an item names, or None and the documented not-found code."""
    pairs = lookups(item)
    for by, value in pairs:
        customer = tx.customer(by, value)
        if customer is not None:
            return customer, 0
    by_id_only = all(by == "user_id" for by, _ in pairs)
    return None, outcome(op_id, "customer_not_found_by_user_id" if by_id_only
                         else "customer_not_found")


def each_item(call: Any, answer: Callable[[dict[str, Any]], dict[str, Any]],
              echoed: Callable[[dict[str, Any]], dict[str, Any]] = echo) -> dict[str, Any]:
    """answer(item) for every item; an item that failed validation keeps its code
    (with echoed(item)); the body with the request-level code of the results."""
    out = [{**echoed(item), "item_status": call.failures[index]} if index in call.failures
           else answer(item) for index, item in enumerate(call.items)]
    return body(call.op.item, out)


def each_customer(call: Any, tx: Tx, view: Any) -> dict[str, Any]:
    """The usual read: every item names a customer; the found ones get view()."""
    def answer(item: dict[str, Any]) -> dict[str, Any]:
        customer, missing = find(tx, call.op.id, item)
        return failed(call.op.id, item, missing) if customer is None \
            else view(call, tx, customer)

    return each_item(call, answer)


# --- readings shared by the handlers ----------------------------------------------------

def listed(value: Any) -> list[Any]:
    """A repeated element as a list (one item may be an object, none "" or null)."""
    return value if isinstance(value, list) else [] if value in (None, "", {}) else [value]


def one_or_many(items: list[Any]) -> Any:
    """A repeated element as both samples write it: one item is an object."""
    return items[0] if len(items) == 1 else items


def day_bound(value: str, end: bool) -> str:
    """A date or datetime as a comparable "YYYY-MM-DD hh:mm:ss": a date alone
    stands for the start of its day, or (end=True) for its end."""
    stamp = value.strip().replace("T", " ")
    if len(stamp) == len("YYYY-MM-DD"):
        stamp += " 23:59:59" if end else " 00:00:00"
    return stamp


def pattern_ok(name: str, value: str) -> bool:
    """Does an identifier value (mobile, email, external_id, user_id or id)
    match the contract's pattern for it?"""
    patterns = replay.identifier_patterns()
    return bool(patterns["user_id" if name == "id" else name].search(value))

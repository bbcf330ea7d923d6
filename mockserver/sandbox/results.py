"""Building answers: item statuses, echoes and whole bodies from the code table."""

from __future__ import annotations

from typing import Any

from capmock.mockserver import replay
from capmock.mockserver.sandbox.store import Customer, Tx
from capmock.openapi import envelope

IDENTIFIERS = ("mobile", "email", "external_id")
LOOKUP_ORDER = ("user_id", "id", "mobile", "email", "external_id")
NOT_FOUND_BY_ID = 1011  # "Cannot find customer for provided identifier"
NOT_FOUND = 1012  # "Cannot find customer for provided mobile/external-id/e-mail"


def status(op_id: str, code: int) -> dict[str, str]:
    return envelope.item_status(op_id, code)


def echo(item: dict[str, Any]) -> dict[str, Any]:
    """The well-formed identifiers a request item sent, for an item that failed
    (a malformed one is not repeated, so the answer stays valid)."""
    return replay.echo(item)


def failed(op_id: str, item: dict[str, Any], code: int) -> dict[str, Any]:
    return {**echo(item), "item_status": status(op_id, code)}


def body(op_path: tuple[str, ...], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Request-level 200 when every item succeeded, 500 when none did, else 201."""
    ok = [i.get("item_status", {}).get("success") == "true" for i in items]
    code = 200 if all(ok) else 500 if not any(ok) else envelope.PARTIAL_FAILURE
    return envelope.item_body(list(op_path), items, code)


def lookups(item: dict[str, Any]) -> list[tuple[str, str]]:
    """(identifier, value) pairs of an item, in the order the service tries them."""
    pairs = []
    for name in LOOKUP_ORDER:
        value = item.get(name)
        if isinstance(value, str | int) and str(value).strip():
            pairs.append(("user_id" if name == "id" else name, str(value).strip()))
    return pairs


def find(tx: Tx, item: dict[str, Any]) -> tuple[Customer | None, int]:
    """The customer an item names, or None and the documented not-found code."""
    pairs = lookups(item)
    for by, value in pairs:
        customer = tx.customer(by, value)
        if customer is not None:
            return customer, 0
    by_id_only = all(by == "user_id" for by, _ in pairs)
    return None, NOT_FOUND_BY_ID if by_id_only else NOT_FOUND


def each_customer(call: Any, tx: Tx, view: Any) -> dict[str, Any]:
    """The usual read: every item names a customer; the found ones get view()."""
    out = []
    for index, item in enumerate(call.items):
        if index in call.failures:
            out.append({**echo(item), "item_status": call.failures[index]})
            continue
        customer, missing = find(tx, item)
        out.append(failed(call.op.id, item, missing) if customer is None
                   else view(call, tx, customer))
    return body(call.op.item, out)

"""Response envelopes built from the code table, and their readers.

The platform wraps every answer in `response.status` (FACTS, request-level
table); item-level failures carry their own `item_status` inside the item node
of the operation (customers/customer, customer, subscriptions/subscription).
Messages come from openapi/codes.yaml, never from code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from capmock.openapi import codes

SUCCESS = 200
PARTIAL_FAILURE = 201
TOTAL_FAILURE = 500


def status(code: int) -> dict[str, str]:
    """The request-level status block for a FACTS code."""
    entry = codes.request_codes()[code]
    return {
        "success": "true" if entry.success else "false",
        "code": str(code),
        "message": entry.message,
    }


def request_error(code: int) -> dict[str, Any]:
    """A whole body for a request-level failure (400, 401, 404 ...)."""
    return {"response": {"status": status(code)}}


def item_status(operation: str, code: int) -> dict[str, str]:
    """The item_status block of one item; KeyError lists the applicable codes."""
    entry = codes.item_code(operation, code)
    return {
        "success": "true" if entry.kind == "success" else "false",
        "code": str(code),
        "message": entry.wire_message,
    }


def nest(path: list[str], leaf: Any) -> dict[str, Any]:
    """{'a': {'b': leaf}} for path ['a', 'b']."""
    node: Any = leaf
    for key in reversed(path):
        node = {key: node}
    return node


def item_body(item_path: list[str], items: list[dict[str, Any]], request_code: int) -> dict:
    """A whole body carrying `items` at the operation's item path."""
    payload: Any = items[0] if len(items) == 1 else items
    return {"response": {"status": status(request_code), **nest(item_path, payload)}}


def item_error(
    operation: str, item_path: list[str], code: int, echo: dict[str, Any]
) -> dict[str, Any]:
    """A body where the only item failed with item-level `code` (request-level 500)."""
    item = {**echo, "item_status": item_status(operation, code)}
    return item_body(item_path, [item], TOTAL_FAILURE)


# --- readers: what an answer says -----------------------------------------------------

def answer_items(data: Any, item_path: Iterable[str]) -> list[dict[str, Any]]:
    """The items at the operation's item path of an answer (one object or a list)."""
    node: Any = data.get("response") if isinstance(data, dict) else None
    for key in item_path:
        node = node.get(key) if isinstance(node, dict) else None
    items = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
    return [i for i in items if isinstance(i, dict)]


def request_code(data: Any) -> int | None:
    """The request-level code (response.status.code) of an answer, None if it has none."""
    node: Any = data.get("response") if isinstance(data, dict) else None
    node = node.get("status") if isinstance(node, dict) else None
    code = node.get("code") if isinstance(node, dict) else None
    return int(code) if isinstance(code, str | int) and str(code).isdigit() else None


def batch_code(successes: Iterable[bool]) -> int:
    """The request-level code of a batch by its items (FACTS, request-level table):
    200 when every item succeeded, 500 when none did, else 201 (partial failure)."""
    ok = list(successes)
    return SUCCESS if all(ok) else TOTAL_FAILURE if not any(ok) else PARTIAL_FAILURE


def item_succeeded(item: dict[str, Any]) -> bool:
    """Did an item of an answer succeed, by its item_status?"""
    status_block = item.get("item_status")
    return isinstance(status_block, dict) and str(status_block.get("success")) == "true"

"""Routing by the contract: method + path -> the operation, or the refusal
(404: no resource at the path; 405: the path exists, the method does not,
with the methods it allows). One table, for the mock, the proxy and the suite;
each turns a refusal into its own answer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from capmock.openapi.contract import Operation, operations

NOT_FOUND = 404
BAD_METHOD = 405


@dataclass(frozen=True)
class Refusal:
    """No operation answers the request: 404 or 405 (with the allowed methods)."""

    status: int
    message: str
    allowed: tuple[str, ...] = ()


@cache
def route_table() -> dict[str, dict[str, Operation]]:
    """path -> method -> operation, from the document (an operation answers each
    method of its x-capmock-methods: customer/update POST and PUT)."""
    table: dict[str, dict[str, Operation]] = {}
    for op in operations().values():
        for method in op.methods or (op.method,):
            table.setdefault(op.path, {})[method] = op
    return table


def route(method: str, path: str) -> Operation | Refusal:
    """The operation for method+path, else the 404 or 405 refusal."""
    methods = route_table().get(path.rstrip("/") or "/")
    if methods is None:
        return Refusal(NOT_FOUND, f"no resource at {path}")
    op = methods.get(method)
    if op is None:
        allowed = tuple(sorted(methods))
        return Refusal(BAD_METHOD, f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                       allowed)
    return op


def find_operation(method: str, path: str) -> Operation | None:
    """The operation for a method (any case) and path, or None."""
    found = route(method.upper(), path)
    return None if isinstance(found, Refusal) else found

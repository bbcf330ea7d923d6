"""Route a request to an operation of the OpenAPI document."""

from __future__ import annotations

from functools import cache

from capmock.mockserver.errors import Rejection
from capmock.openapi.contract import Operation, operations

NOT_FOUND = 404
BAD_METHOD = 405


@cache
def route_table() -> dict[str, dict[str, Operation]]:
    """path -> method -> operation, from the document."""
    table: dict[str, dict[str, Operation]] = {}
    for op in operations().values():
        table.setdefault(op.path, {})[op.method] = op
    return table


def route(method: str, path: str) -> Operation:
    """The operation for method+path; 404 for an unknown path, 405 for a wrong method."""
    methods = route_table().get(path.rstrip("/") or "/")
    if methods is None:
        raise Rejection(NOT_FOUND, f"no resource at {path}")
    op = methods.get(method)
    if op is None:
        allowed = ", ".join(sorted(methods))
        raise Rejection(BAD_METHOD, f"{method} is not allowed on {path}; use {allowed}")
    return op

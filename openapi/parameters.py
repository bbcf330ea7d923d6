"""Query parameters of the contract: is a raw value (as sent, a string) valid
for its parameter? One answer, used by the mock server (to reject) and the
conformance suite (to know what a server must reject)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from capmock.openapi import contract

Check = Callable[[str], "str | None"]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return contract.spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def below(value: str, minimum: int) -> bool:
    """value < minimum for a string of digits, without int() on a number longer
    than the minimum's own (Python refuses to convert past 4300 digits)."""
    if len(value.lstrip("-")) > len(str(abs(minimum))) + 1:
        return value.startswith("-")
    return int(value) < minimum


def int_check(schema: dict[str, Any]) -> Check:
    minimum = schema.get("minimum")

    def check(value: str) -> str | None:
        if not re.fullmatch(r"-?[0-9]+", value):
            return f"{value!r} is not an integer"
        if minimum is not None and below(value, minimum):
            return f"{value} is below {minimum}"
        return None
    return check


def str_check(schema: dict[str, Any]) -> Check:
    enum, pattern = schema.get("enum"), schema.get("pattern")
    compiled = re.compile(pattern) if pattern else None

    def check(value: str) -> str | None:
        if enum is not None and value not in enum:
            return f"{value!r} is not one of {', '.join(map(str, enum))}"
        if compiled is not None and not compiled.search(value):
            return f"{value!r} does not match {pattern}"
        if schema.get("minLength") and len(value) < schema["minLength"]:
            return "must not be empty"
        return None
    return check


def value_check(schema: dict[str, Any]) -> Check:
    """A function returning why a raw query value breaks `schema`, or None."""
    schema = resolve(schema)
    return int_check(schema) if schema.get("type") == "integer" else str_check(schema)


@cache
def checks(operation: str) -> dict[str, Check]:
    """Parameter name -> its value check, for one operation."""
    op = contract.operations()[operation]
    item = contract.spec()["paths"][op.path][op.method.lower()]
    return {p["name"]: value_check(p["schema"]) for p in item["parameters"]}


def search_conditions(q: str) -> str:
    """customer/search's q without the parentheses the current reference and live
    clients wrap it in: q=(mobile:EQUALS:1) is q=mobile:EQUALS:1 (D85)."""
    if q.startswith("(") and q.endswith(")"):
        return q[1:-1]
    return q

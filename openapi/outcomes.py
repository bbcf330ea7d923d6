"""The outcome table (openapi/rules.yaml): which documented code answers a
validation failure or an outcome of an operation (succeeded, not found,
identity change pending, 1028, 1301 ...). One reading, for the mock (its
answers), its sandbox (each outcome) and the suite (what a server must say)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from capmock import fixtures
from capmock.openapi import codes


@cache
def rules() -> dict[str, Any]:
    text = resources.files("capmock.openapi").joinpath("rules.yaml").read_text("utf-8")
    return fixtures.parse_yaml(text)


def code_for(operation: str, kind: str, field: str | None = None) -> int | None:
    """The first candidate code of the rule that applies to the operation."""
    entry = rules().get(kind)
    candidates = entry.get(field, []) if isinstance(entry, dict) else entry or []
    applicable = codes.codes_for(operation)
    return next((c for c in candidates if c in applicable), None)


def empty_fields() -> tuple[str, ...]:
    return tuple(rules()["empty_field"])


def body_identifiers() -> tuple[str, ...]:
    """The fields of a request item that name its customer (body_identifiers)."""
    return tuple(rules()["body_identifiers"])

"""The error bodies capmock documents: one per request-level error code and
one per (operation, item-level error code), built from the code table. The
build writes them to fixtures/errors/ and attaches them as OpenAPI examples."""

from __future__ import annotations

import json
from typing import Any

from capmock import fixtures
from capmock.openapi import codes
from capmock.openapi.codec import data_to_json, data_to_xml
from capmock.openapi.envelope import item_error, request_error

REQUEST_LEVEL_ERRORS = (400, 401, 402, 404, 405, 406, 407, 408)


def render(body: dict[str, Any], fmt: str) -> bytes:
    """A body as a fixture file: pretty JSON or XML, with a final newline."""
    return data_to_json(body, pretty=True) + b"\n" if fmt == "json" else data_to_xml(body)


def echo_identifiers(operation: str, item_path: list[str]) -> dict[str, Any]:
    """The identifiers the default sample's first item carries, echoed in errors."""
    sample = fixtures.find(operation, "default", "response", "json")
    node: Any = json.loads(sample.read_text()) if sample else {}
    for key in ["response", *item_path]:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    if isinstance(node, list):
        node = node[0] if node else {}
    keep = ("mobile", "email", "external_id")
    return {k: v for k, v in node.items() if k in keep and v}  # the sample's order


def error_codes(operation: str) -> list[int]:
    """The item-level error codes that apply to an operation, ascending."""
    return [c for c, e in codes.codes_for(operation).items() if e.kind == "error"]


def item_error_body(operation: str, item_path: list[str], code: int) -> dict[str, Any]:
    return item_error(operation, item_path, code, echo_identifiers(operation, item_path))


def request_error_body(code: int) -> dict[str, Any]:
    return request_error(code)

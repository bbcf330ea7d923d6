"""Is a request invalid by the contract? The suite judges a server's answer to
an invalid request only when the contract itself says the request is invalid:
schemathesis also counts undocumented extra parameters as negative, which the
lenient platform rightly ignores."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema

from capmock.openapi import contract
from capmock.openapi.codec import CodecError, data_to_xml, xml_to_data

FLAGS = ("true", "false")


@cache
def parameter_schemas(operation: str) -> dict[str, dict[str, Any]]:
    op = contract.operations()[operation]
    item = contract.spec()["paths"][op.path][op.method.lower()]
    components = contract.spec()["components"]["schemas"]
    out = {}
    for param in item["parameters"]:
        schema = param["schema"]
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
        out[param["name"]] = schema
    return out


def bad_value(schema: dict[str, Any], value: Any) -> bool:
    """Does a query value (as sent, a string) break its parameter schema?"""
    text = str(value)
    if schema.get("type") == "integer":
        if not text.lstrip("-").isdigit():
            return True
        value = int(text)
    else:
        value = text
    return not jsonschema.Draft7Validator(schema).is_valid(value)


def query_is_invalid(op: contract.Operation, query: dict[str, Any]) -> bool:
    schemas = parameter_schemas(op.id)
    for name, value in query.items():
        values = value if isinstance(value, list) else [value]
        if name in schemas and any(bad_value(schemas[name], v) for v in values):
            return True
    if op.identifiers:
        sent = [n for n in op.identifiers if query.get(n) not in (None, "", *FLAGS)]
        return not sent
    return False


def body_is_invalid(op: contract.Operation, body: Any, media_type: str | None) -> bool:
    """Judge the body the server received: for XML, the generated data as the
    codec rendered it (an empty list, for instance, becomes no element)."""
    if "request" not in op.body_schemas:
        return False
    if (media_type or "").endswith("json"):
        return bool(contract.json_errors(op.id, "request", body, "lenient"))
    try:
        xml = data_to_xml({"root": body})
    except CodecError:
        return True
    return bool(contract.xml_errors(op.id, "request", xml, "lenient")
                or contract.json_errors(op.id, "request", xml_to_data(xml), "lenient"))


def request_is_invalid(op: contract.Operation, case: Any) -> bool:
    """True when the contract rejects the request's documented parts."""
    return query_is_invalid(op, case.query or {}) or body_is_invalid(
        op, case.body, case.media_type)

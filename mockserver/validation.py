"""Validate a request against the contract and collect problems as values.

Query parameters are checked against their schemas in the OpenAPI document,
bodies against the JSON Schema (JSON, and XML read through the codec) and the
XSD (XML). A problem inside one item of the body (root/customer[i]) stays
with that item, so a batch can fail item by item; the pipeline decides which
documented code answers it (rules.yaml).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.mockserver.rules import empty_fields
from capmock.openapi import clean, contract, parameters
from capmock.openapi.codec import CodecError, parse_xml, xml_to_data

BAD_REQUEST = 400
CONTROL_PREFIX = "__"  # __example, __code, __item, __delay: capmock's own parameters
FLAGS = ("true", "false")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request."""

    kind: str  # invalid_field | missing_identifier | batch_limit | empty_field | invalid
    where: str  # "query mobile" or a body path such as /root/customer/1/mobile
    message: str
    field: str | None = None
    item: int | None = None  # index of the failing body item; None = the whole request


# --- query parameters ---------------------------------------------------------------

@cache
def integer_parameters(operation: str) -> frozenset[str]:
    """The operation's query parameters whose schema is an integer."""
    op = contract.operations()[operation]
    item = contract.spec()["paths"][op.path][op.method.lower()]
    return frozenset(p["name"] for p in item["parameters"]
                     if parameters.resolve(p["schema"]).get("type") == "integer")


def refuse_unclean_query(op: contract.Operation, request: MockRequest) -> None:
    """400 naming the parameter, at the door, for a query name or value holding
    text XML 1.0 cannot carry (clean.text_problem: the value could be echoed or
    stored, and every answer exists in XML too), and for an integer parameter
    with more than clean.MAX_DIGITS digits (no documented number is that long;
    past 4300 digits Python cannot even convert it)."""
    integers = integer_parameters(op.id)
    for name, value in request.query:
        problem = clean.text_problem(name)
        if problem is not None:
            raise Rejection(BAD_REQUEST, f"query parameter {name!r}: {problem}")
        problem = clean.text_problem(value)
        if problem is not None:
            raise Rejection(BAD_REQUEST, f"query {name}: {problem}")
        if name in integers and len(value.lstrip("+-")) > clean.MAX_DIGITS:
            raise Rejection(BAD_REQUEST, f"query {name}: more than {clean.MAX_DIGITS} digits")


def query_problems(op: contract.Operation, request: MockRequest, batch_limit: int) -> list:
    refuse_unclean_query(op, request)
    problems: list[Problem] = []
    checks = parameters.checks(op.id)
    for name, value in request.query:
        if name.startswith(CONTROL_PREFIX) or name not in checks:
            continue  # undocumented parameters are ignored, as lenient servers do
        reason = checks[name](value)
        if reason:
            kind = "invalid_field" if name in op.identifiers else "invalid"
            problems.append(Problem(kind, f"query {name}", f"{name}: {reason}", name, None))
    problems.extend(identifier_problems(op, request, batch_limit))
    return problems


def identifier_values(op: contract.Operation, request: MockRequest) -> dict[str, str]:
    """The identifier parameters the request sends (user_id=true is a flag, not an id)."""
    sent = {n: v for n, v in request.query if n in op.identifiers and v}
    if sent.get("user_id") in FLAGS:
        del sent["user_id"]
    return sent


def identifier_problems(op: contract.Operation, request: MockRequest, limit: int) -> list:
    if not op.identifiers:
        return []
    sent = identifier_values(op, request)
    if not sent:
        names = ", ".join(op.identifiers)
        return [Problem("missing_identifier", "query", f"send one of: {names}", None, None)]
    largest = max(len(v.split(",")) for v in sent.values())
    if op.batch and largest > limit:
        return [Problem("batch_limit", "query", f"{largest} identifiers; the limit is {limit}")]
    return []


# --- bodies --------------------------------------------------------------------------

def depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, stopping once past `limit` (no recursion)."""
    stack, deepest = [(value, 1)], 0
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) \
            else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(body: bytes, max_depth: int) -> Any:
    """The body's data; 400 when it is not JSON, or is JSON capmock cannot
    carry into both formats (clean.load_json: text XML 1.0 cannot carry,
    NaN/Infinity, whole numbers over clean.MAX_DIGITS digits), naming where."""
    try:
        data = clean.load_json(body.decode("utf-8"), structure=False)
    except UnicodeDecodeError as error:
        raise Rejection(BAD_REQUEST, f"body is not UTF-8: {error.reason}") from None
    except json.JSONDecodeError as error:
        raise Rejection(BAD_REQUEST, f"malformed JSON: {error}") from None
    except clean.Unclean as error:
        raise Rejection(BAD_REQUEST, str(error)) from None
    except RecursionError:
        raise Rejection(BAD_REQUEST, f"JSON nested deeper than {max_depth} levels") from None
    if depth(data, max_depth) > max_depth:
        raise Rejection(BAD_REQUEST, f"JSON nested deeper than {max_depth} levels")
    return data


def parse_body(body: bytes, fmt: str, max_depth: int) -> tuple[Any, Any]:
    """(data, xml root or None); 400 for an empty, malformed or hostile body."""
    if not body.strip():
        raise Rejection(BAD_REQUEST, "the request body is empty")
    if fmt == "json":
        return parse_json(body, max_depth), None
    try:
        root = parse_xml(body, max_depth=max_depth)
        return xml_to_data(root), root
    except CodecError as error:
        raise Rejection(BAD_REQUEST, str(error)) from None


def items_of(data: Any) -> tuple[str, list[Any]]:
    """(item element name, items) of a request body: root/customer or root/subscription."""
    root = data.get("root") if isinstance(data, dict) else None
    if not isinstance(root, dict) or not root:
        return "", []
    key = next(iter(root))
    value = root[key]
    return key, value if isinstance(value, list) else [value]


def problem_from(error: jsonschema.ValidationError, prefix: list[Any],
                 item: int | None) -> Problem:
    """A schema violation as a problem, located under `prefix` (its item's path)."""
    best = contract.deepest(error)
    path = prefix + list(best.absolute_path)
    field = next((p for p in reversed(path) if isinstance(p, str)), None)
    if best.validator == "required":
        field = best.message.split("'")[1]
    where = "/" + "/".join(map(str, path))
    return Problem("invalid_field", where, f"{where}: {contract.describe(best).split(': ', 1)[1]}",
                   field, item)


@cache
def item_schema(request_schema: str, key: str) -> str | None:
    """The component schema of one item (root/<key>) of a request body."""
    body = contract.spec()["components"]["schemas"][request_schema]
    root = body["properties"]["root"]["$ref"].rsplit("/", 1)[1]
    prop = contract.spec()["components"]["schemas"][root]["properties"].get(key)
    if prop is None:
        return None
    first = prop.get("anyOf", [prop])[0]
    return first["$ref"].rsplit("/", 1)[1]


def schema_problems(op: contract.Operation, data: Any) -> list[Problem]:
    """Body violations; each item is checked on its own so every bad item is named."""
    if contract.surely_valid(op.body_schemas["request"], data):
        return []
    key, items = items_of(data)
    name = item_schema(op.body_schemas["request"], key) if key else None
    if name is None or not all(isinstance(i, dict) for i in items):
        validator = contract.json_validator(op.body_schemas["request"], "lenient")
        return [problem_from(e, [], None) for e in validator.iter_errors(data)]
    validator = contract.json_validator(name, "lenient")
    return [problem_from(e, ["root", key, index], index)
            for index, item in enumerate(items) for e in validator.iter_errors(item)]


def empty_problems(items: list[Any]) -> list[Problem]:
    out = []
    for index, item in enumerate(items):
        for name in empty_fields():
            if has_empty(item, name):
                out.append(Problem("empty_field", f"item {index + 1}", f"{name} is empty",
                                   name, index))
    return out


def has_empty(node: Any, name: str) -> bool:
    if isinstance(node, list):
        return any(has_empty(n, name) for n in node)
    if not isinstance(node, dict):
        return False
    if name in node and node[name] in ("", None):
        return True
    return any(has_empty(v, name) for v in node.values())


def body_problems(op: contract.Operation, data: Any, xml_root: Any, limit: int) -> list:
    """Everything wrong with a parsed body."""
    key, items = items_of(data)
    if key and not items:
        return [Problem("invalid", f"/root/{key}", f"/root/{key}: at least one {key} is needed")]
    if len(items) > (limit if op.batch else 1):
        if not op.batch:
            return [Problem("invalid", "/root", f"{op.id} takes one item (no batch support)")]
        return [Problem("batch_limit", "/root", f"{len(items)} items; the limit is {limit}")]
    problems = schema_problems(op, data) + empty_problems(items)
    if not problems and xml_root is not None:
        problems = [Problem("invalid", "xml", message)
                    for message in contract.xml_errors(op.id, "request", xml_root, "lenient")]
    return problems

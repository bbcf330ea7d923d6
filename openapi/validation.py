"""Request validation by the contract, as plain values: query and body, JSON
and XML, lenient or strict profile. One home for the rules the mock (which
answers each problem with a documented code), the proxy (which reports them)
and the suite (which knows what a server must reject) share.

A problem inside one item of the body (root/customer[i]) stays with that item,
so a batch can fail item by item. A `refused` problem means the request cannot
be read any further (text XML 1.0 cannot carry, an unreadable body, a format
that is neither JSON nor XML): it comes alone, and nothing else is judged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jsonschema

from capmock.openapi import clean, contract, negotiation, outcomes, parameters
from capmock.openapi.codec import CodecError, parse_xml, xml_to_data

CONTROL_PREFIX = "__"  # __example, __code, __item, __delay: capmock's own parameters
FLAGS = ("true", "false")
REFUSED = "refused"
Query = list[tuple[str, str]]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request."""

    kind: str  # invalid_field | missing_identifier | batch_limit | empty_field | invalid | refused
    where: str  # "query mobile" or a body path such as /root/customer/1/mobile
    message: str
    field: str | None = None
    item: int | None = None  # index of the failing body item; None = the whole request


@dataclass(frozen=True)
class Body:
    """A parsed request body: its data, and the XML element tree it came from."""

    data: Any
    xml: Any = None


@dataclass(frozen=True)
class Checked:
    """A request as validation saw it: its items (body items, or one
    {identifier: value} per identifier value of a GET) and its problems."""

    items: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def refused(message: str) -> Problem:
    return Problem(REFUSED, "request", message)


# --- query parameters ---------------------------------------------------------------

@cache
def integer_parameters(operation: str) -> frozenset[str]:
    """The operation's query parameters whose schema is an integer."""
    op = contract.operations()[operation]
    item = contract.spec()["paths"][op.path][op.method.lower()]
    return frozenset(p["name"] for p in item["parameters"]
                     if parameters.resolve(p["schema"]).get("type") == "integer")


@cache
def required_parameters(operation: str) -> tuple[str, ...]:
    op = contract.operations()[operation]
    item = contract.spec()["paths"][op.path][op.method.lower()]
    return tuple(p["name"] for p in item.get("parameters", []) if p.get("required"))


def unclean_query(op: contract.Operation, query: Query) -> Problem | None:
    """A query name or value holding text XML 1.0 cannot carry (clean.text_problem:
    the value could be echoed or stored, and every answer exists in XML too), or
    an integer parameter with more than clean.MAX_DIGITS digits (no documented
    number is that long; past 4300 digits Python cannot even convert it)."""
    integers = integer_parameters(op.id)
    for name, value in query:
        problem = clean.text_problem(name)
        if problem is not None:
            return refused(f"query parameter {name!r}: {problem}")
        problem = clean.text_problem(value)
        if problem is not None:
            return refused(f"query {name}: {problem}")
        if name in integers and len(value.lstrip("+-")) > clean.MAX_DIGITS:
            return refused(f"query {name}: more than {clean.MAX_DIGITS} digits")
    return None


def query_problems(op: contract.Operation, query: Query, batch_limit: int) -> list[Problem]:
    """Values that break their schema, and the identifiers' rules (one is needed;
    no more than batch_limit); undocumented and capmock's own parameters pass."""
    refusal = unclean_query(op, query)
    if refusal is not None:
        return [refusal]
    problems: list[Problem] = []
    checks = parameters.checks(op.id)
    for name, value in query:
        if name.startswith(CONTROL_PREFIX) or name not in checks:
            continue  # undocumented parameters are ignored, as lenient servers do
        reason = checks[name](value)
        if reason:
            kind = "invalid_field" if name in op.identifiers else "invalid"
            problems.append(Problem(kind, f"query {name}", f"{name}: {reason}", name, None))
    named = pair_identifier(op, query)
    if named is not None and named[0] in checks:
        reason = checks[named[0]](named[1])
        if reason:
            where = f"query {op.identifier_pair[1]}"
            problems.append(Problem("invalid_field", where, f"{op.identifier_pair[1]} "
                                    f"({named[0]}): {reason}", named[0], None))
    problems.extend(identifier_problems(op, query, batch_limit))
    return problems


def required_problems(op: contract.Operation, query: Query) -> list[Problem]:
    """The parameters the document marks required that the query lacks."""
    sent = {name for name, _ in query}
    return [Problem("invalid", f"query {name}", f"query {name}: required parameter is missing",
                    name) for name in required_parameters(op.id) if name not in sent]


def identifier_values(op: contract.Operation, query: Query) -> dict[str, str]:
    """The identifier parameters the request sends (user_id=true is a flag, not an id);
    identifierName=N&identifierValue=V (op.identifier_pair) is read as N=V."""
    sent = {n: v for n, v in query if n in op.identifiers and v}
    if sent.get("user_id") in FLAGS:
        del sent["user_id"]
    named = pair_identifier(op, query)
    if named is not None:
        sent.setdefault(*named)
    return sent


def pair_identifier(op: contract.Operation, query: Query) -> tuple[str, str] | None:
    """(identifier, value) of identifierName/identifierValue, when both are sent
    and the name is one of the operation's identifiers."""
    if not op.identifier_pair:
        return None
    name_param, value_param = op.identifier_pair
    values = dict(reversed(query))  # the first of each name
    name, value = values.get(name_param), values.get(value_param)
    if name in op.identifiers and value:
        return name, value
    return None


def identifier_problems(op: contract.Operation, query: Query, limit: int) -> list[Problem]:
    if not op.identifiers:
        return []
    sent = identifier_values(op, query)
    if not sent:
        names = ", ".join(op.identifiers)
        return [Problem("missing_identifier", "query", f"send one of: {names}", None, None)]
    largest = max(len(v.split(",")) for v in sent.values())
    if op.batch and largest > limit:
        return [Problem("batch_limit", "query", f"{largest} identifiers; the limit is {limit}")]
    return []


def query_items(op: contract.Operation, query: Query) -> list[dict[str, Any]]:
    """One item per identifier value of a GET (mobile=a,b -> two customers)."""
    items: list[dict[str, Any]] = []
    for name, value in identifier_values(op, query).items():
        items.extend({name: v} for v in value.split(",") if v)
    return items


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


def read_json(body: bytes, max_depth: int) -> Body | Problem:
    """The body's data; refused when it is not JSON, or is JSON capmock cannot
    carry into both formats (clean.load_json: text XML 1.0 cannot carry,
    NaN/Infinity, whole numbers over clean.MAX_DIGITS digits), naming where."""
    try:
        data = clean.load_json(body.decode("utf-8"), structure=False)
    except UnicodeDecodeError as error:
        return refused(f"body is not UTF-8: {error.reason}")
    except json.JSONDecodeError as error:
        return refused(f"malformed JSON: {error}")
    except clean.Unclean as error:
        return refused(str(error))
    except RecursionError:
        return refused(f"JSON nested deeper than {max_depth} levels")
    if depth(data, max_depth) > max_depth:
        return refused(f"JSON nested deeper than {max_depth} levels")
    return Body(contract.as_text(data))


def read_body(body: bytes, fmt: str, max_depth: int) -> Body | Problem:
    """The parsed body; refused for an empty, malformed or hostile one."""
    if not body.strip():
        return refused("the request body is empty")
    if fmt == "json":
        return read_json(body, max_depth)
    try:
        root = parse_xml(body, max_depth=max_depth)
        return Body(xml_to_data(root), root)
    except CodecError as error:
        return refused(str(error))


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
    name = next((p for p in reversed(path) if isinstance(p, str)), None)
    if best.validator == "required":
        name = best.message.split("'")[1]
    where = "/" + "/".join(map(str, path))
    return Problem("invalid_field", where, f"{where}: {contract.describe(best).split(': ', 1)[1]}",
                   name, item)


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


def schema_problems(op: contract.Operation, data: Any, profile: str = "lenient") -> list[Problem]:
    """Body violations; each item is checked on its own so every bad item is named."""
    if contract.surely_valid(op.body_schemas["request"], data, profile):
        return []
    key, items = items_of(data)
    name = item_schema(op.body_schemas["request"], key) if key else None
    if name is None or not all(isinstance(i, dict) for i in items):
        validator = contract.json_validator(op.body_schemas["request"], profile)
        return [problem_from(e, [], None) for e in validator.iter_errors(data)]
    validator = contract.json_validator(name, profile)
    return [problem_from(e, ["root", key, index], index)
            for index, item in enumerate(items) for e in validator.iter_errors(item)]


def empty_problems(items: list[Any]) -> list[Problem]:
    """A field the operation needs sent empty (outcomes: empty_field)."""
    out = []
    for index, item in enumerate(items):
        for name in outcomes.empty_fields():
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


@cache
def body_identifiers(operation: str, key: str) -> tuple[str, ...]:
    """The identifiers (outcomes: body_identifiers) an item root/<key> of the
    operation's request may carry: all of them (user_id and id too, which the
    lenient contract lets any item carry and the sandbox looks customers up by)
    for an item whose type declares one; none for items that name no customer."""
    request = contract.operations()[operation].body_schemas["request"]
    name = item_schema(request, key) if key else None
    if name is None:
        return ()
    declared = contract.spec()["components"]["schemas"][name].get("properties", {})
    names = outcomes.body_identifiers()
    return names if any(n in declared for n in names) else ()


def missing_identifiers(op: contract.Operation, key: str, items: list[Any]) -> list[Problem]:
    """An item that names no customer at all: the documented 1015/1104 (outcomes:
    missing_identifier), in the replay and the sandbox alike."""
    names = body_identifiers(op.id, key)
    if not names:
        return []
    return [Problem("missing_identifier", f"/root/{key}/{index}",
                    f"/root/{key}/{index}: send one of: {', '.join(names)}", None, index)
            for index, item in enumerate(items) if isinstance(item, dict)
            and not any(item.get(n) not in (None, "", [], {}) for n in names)]


def body_problems(op: contract.Operation, body: Body, limit: int,
                  profile: str = "lenient") -> list[Problem]:
    """Everything wrong with a parsed body: item count, schema, empty fields,
    items naming no customer, XSD."""
    key, items = items_of(body.data)
    if key and not items:
        return [Problem("invalid", f"/root/{key}", f"/root/{key}: at least one {key} is needed")]
    if len(items) > (limit if op.batch else 1):
        if not op.batch:
            return [Problem("invalid", "/root", f"{op.id} takes one item (no batch support)")]
        return [Problem("batch_limit", "/root", f"{len(items)} items; the limit is {limit}")]
    problems = schema_problems(op, body.data, profile) + empty_problems(items) \
        + missing_identifiers(op, key, items)
    if not problems and body.xml is not None:
        problems = [Problem("invalid", "xml", message)
                    for message in contract.xml_errors(op.id, "request", body.xml, profile)]
    return problems


# --- the whole request ---------------------------------------------------------------

def check_request(op: contract.Operation, query: Query, content_type: str, body: bytes, *,
                  batch_limit: int, max_depth: int, profile: str = "lenient") -> Checked:
    """The request's items and problems: the query first; a body by its
    Content-Type (sniffed when there is none). A refusal comes alone."""
    problems = query_problems(op, query, batch_limit)
    if any(p.kind == REFUSED for p in problems):
        return Checked([], problems)
    if "request" not in op.body_schemas:
        return Checked(query_items(op, query), problems)
    try:
        fmt = negotiation.body_format(content_type, body)
    except negotiation.NegotiationError as error:
        return Checked([], [refused(str(error))])
    parsed = read_body(body, fmt, max_depth)
    if isinstance(parsed, Problem):
        return Checked([], [parsed])
    items = [i for i in items_of(parsed.data)[1] if isinstance(i, dict)]
    return Checked(items, problems + body_problems(op, parsed, batch_limit, profile))

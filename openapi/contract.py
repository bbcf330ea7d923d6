"""The contract at run time: the OpenAPI document, its operations, and
validation of JSON bodies (JSON Schema) and XML bodies (XSD) per profile.

Profiles: "lenient" (the published document: undocumented extras allowed) and
"strict" (every undocumented property or element is a violation). The strict
JSON schemas are derived mechanically (additionalProperties: false on every
object with documented properties); lenient XML validation prunes the elements
the XSD does not declare before validating against it.

Wires (capmock.openapi.wire): the lenient and strict profiles accept a JSON
body in either wire form (platform or document); `json_errors(..., profile=
"strict", wire="platform")` also reports where it differs from the platform's
form (a string code, one item as an object, points as text). `render` writes
a body for a wire.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from lxml import etree

from capmock import fixtures
from capmock.openapi import envelope
from capmock.openapi import wire as wires
from capmock.openapi.codec import parse_xml, xml_to_data

SPEC_NAME = "capillary-customer-v1.1.yaml"
PROFILES = ("lenient", "strict")
ROLES = ("request", "response")
XS = "{http://www.w3.org/2001/XMLSchema}"


@dataclass(frozen=True)
class Operation:
    """One operation of the document, with the facts capmock relies on."""

    id: str
    method: str
    path: str
    section: str
    batch: bool
    identifiers: tuple[str, ...]
    item: tuple[str, ...]
    xsd: dict[str, str]
    codes: tuple[int, ...]
    body_schemas: dict[str, str]  # role -> component schema name of the JSON body
    methods: tuple[str, ...] = ()  # every method that answers it: `method` first (update: PUT)
    identifier_pair: tuple[str, ...] = ()  # (identifierName, identifierValue) where offered
    success_fields: tuple[str, ...] = ()  # a succeeded item of the answer carries each


def package_text(name: str) -> str:
    return resources.files("capmock.openapi").joinpath(name).read_text("utf-8")


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document as published (lenient profile)."""
    return fixtures.parse_yaml(package_text(SPEC_NAME))


@cache
def spec_on_wire(wire: str) -> dict[str, Any]:
    """The document with every JSON response example written for `wire` (what a
    mock serving that wire answers; the reference page shows these). `document`
    is the published document itself."""
    document = spec()
    if wire == "document":
        return document
    out = copy.deepcopy(document)
    for path in out["paths"].values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                media = response.get("content", {}).get("application/json", {})
                ref = media.get("schema", {}).get("$ref", "")
                for example in media.get("examples", {}).values():
                    if ref and "value" in example:
                        example["value"] = render_for(ref.rsplit("/", 1)[1], example["value"],
                                                      wire)
    return out


def _body_schema(media: dict[str, Any]) -> str:
    return media["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def _operation(path: str, method: str, op: dict[str, Any]) -> Operation:
    bodies = {"response": _body_schema(op["responses"]["200"]["content"])}
    if "requestBody" in op:
        bodies["request"] = _body_schema(op["requestBody"]["content"])
    return Operation(
        id=op["operationId"],
        method=method.upper(),
        path=path,
        section=op["x-capmock-section"],
        batch=op["x-capmock-batch"],
        identifiers=tuple(op["x-capmock-identifiers"]),
        item=tuple(op["x-capmock-item"]),
        xsd=op["x-capmock-xsd"],
        codes=tuple(op["x-capmock-codes"]),
        body_schemas=bodies,
        methods=tuple(op.get("x-capmock-methods") or (method.upper(),)),
        identifier_pair=tuple(op.get("x-capmock-identifier-pair") or ()),
        success_fields=tuple(op.get("x-capmock-success-fields") or ()),
    )


@cache
def operations() -> dict[str, Operation]:
    """Every operation by operationId, in document order."""
    out = {}
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            operation = _operation(path, method, op)
            out[operation.id] = operation
    return out


def to_json_schema(node: Any, strict: bool) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: nullable becomes a null type."""
    if isinstance(node, list):
        return [to_json_schema(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v, strict) for k, v in node.items() if k not in ("xml", "example")}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if strict and "properties" in out and out.get("type") == "object":
        out["additionalProperties"] = False
    return out


@cache
def _components(profile: str) -> dict[str, Any]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    schemas = copy.deepcopy(spec()["components"]["schemas"])
    return {"schemas": to_json_schema(schemas, profile == "strict")}


@cache
def json_validator(schema_name: str, profile: str = "lenient") -> jsonschema.Validator:
    """A validator for one component schema (e.g. "GetResponseBody")."""
    root = {"components": _components(profile), "$ref": f"#/components/schemas/{schema_name}"}
    return jsonschema.Draft7Validator(root)


def json_errors(operation: str, role: str, data: Any, profile: str = "lenient",
                wire: str | None = None) -> list[str]:
    """Violations of a JSON body against its operation's schema, one line each
    (a request as the platform reads it: as_text); under the strict profile,
    with `wire`, also where it differs from that wire."""
    if role == "request":
        data = as_text(data)
    return json_errors_for(operations()[operation].body_schemas[role], data, profile, wire)


@cache
def wire_profile() -> wires.Profile:
    """The wire rules bound to the document's component schemas."""
    return wires.Profile(spec()["components"]["schemas"])


def render(operation: str, role: str, data: Any, wire: str) -> Any:
    """A JSON body of an operation written for `wire` (platform or document)."""
    return wire_profile().render(operations()[operation].body_schemas[role], data, wire)


def render_for(schema_name: str, data: Any, wire: str) -> Any:
    """A JSON body of one component schema (e.g. "ErrorEnvelopeBody") written for `wire`."""
    return wire_profile().render(schema_name, data, wire)


def as_text(data: Any) -> Any:
    """A JSON request body as the XML would hold it: a number or a boolean where
    the XML has text is read as that text ("mobile": 917755876888 is the mobile
    "917755876888", a custom field value 3 is "3", true is "true"). Live clients
    send them (FACTS, "What live clusters send"; D78); null stays empty. Request
    bodies are judged after this reading (json_errors, role "request"), so the
    request schemas, which type those fields as text, hold the text."""
    if isinstance(data, dict):
        return {key: as_text(value) for key, value in data.items()}
    if isinstance(data, list):
        return [as_text(value) for value in data]
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, int | float):
        return json.dumps(data)
    return data


@cache
def fast_validator(schema_name: str, profile: str = "lenient") -> Any:
    """The same schema compiled by jsonschema-rs (Rust): on the documented add
    body 7.6 us against 5.4 ms, so valid bodies (nearly all) skip the Python
    validator, which is kept for its detailed errors."""
    import jsonschema_rs

    root = {"components": _components(profile), "$ref": f"#/components/schemas/{schema_name}"}
    return jsonschema_rs.Draft7Validator(root)


# Where Python's re and the ECMA-262 regexes of jsonschema-rs disagree: Python's
# \s also matches U+001C-U+001F and U+0085, and its $ matches before a final
# newline. Data with such characters is judged by the Python validator alone.
PYTHON_ONLY = re.compile(r'\\u001[cdefCDEF]|\x85|\\n"')


def surely_valid(schema_name: str, data: Any, profile: str = "lenient") -> bool:
    """True only if the Python validator would find no error (the fast path);
    False means: ask the Python validator."""
    if not fast_validator(schema_name, profile).is_valid(data):
        return False
    return not PYTHON_ONLY.search(json.dumps(data, ensure_ascii=False))


def json_errors_for(schema_name: str, data: Any, profile: str = "lenient",
                    wire: str | None = None) -> list[str]:
    """Violations of data against one component schema, one line each; under the
    strict profile, with `wire`, also where it differs from that wire's form."""
    found = wire_profile().errors(schema_name, data, wire) if wire and profile == "strict" else []
    if surely_valid(schema_name, data, profile):
        return found
    validator = json_validator(schema_name, profile)
    return [describe(e) for e in sorted(validator.iter_errors(data), key=_error_key)] + found


def _error_key(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path)


def deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The most specific cause of an error: inside anyOf (one-or-many, empty
    forms), the alternative that got furthest into the data explains it best."""
    if not error.context:
        return error
    causes = [deepest(e) for e in error.context]
    return max(causes, key=lambda e: (len(e.absolute_path), e.validator != "type"))


def describe(error: jsonschema.ValidationError) -> str:
    best = deepest(error)
    where = "/" + "/".join(str(p) for p in best.absolute_path)
    message = best.message if len(best.message) <= 160 else best.message[:157] + "..."
    return f"{where}: {message}"


@cache
def xml_schema(operation: str, role: str) -> etree.XMLSchema:
    path = operations()[operation].xsd[role]
    return etree.XMLSchema(etree.fromstring(package_text(path).encode("utf-8")))


@cache
def declared_children(operation: str, role: str) -> dict[str, dict[str, str]]:
    """complexType name -> {child element name: type name}, from the XSD."""
    path = operations()[operation].xsd[role]
    tree = etree.fromstring(package_text(path).encode("utf-8"))
    out: dict[str, dict[str, str]] = {}
    # xsd_gen names every complexType and gives every element a name and a type
    for ctype in tree.iter(f"{XS}complexType"):
        out[ctype.attrib["name"]] = {e.attrib["name"]: e.attrib["type"]
                                     for e in ctype.iter(f"{XS}element")}
    root = tree.find(f"{XS}element")
    if root is None:
        raise ValueError(f"{path}: no root element declaration")
    out[""] = {root.attrib["name"]: root.attrib["type"]}
    return out


def prune_unknown(element: etree._Element, type_name: str, types: dict) -> None:
    """Remove the child elements that `type_name` does not declare, recursively."""
    children = types.get(type_name)
    if children is None:
        return
    for child in list(element):
        if not isinstance(child.tag, str):
            continue
        if child.tag not in children:
            element.remove(child)
        else:
            prune_unknown(child, children[child.tag], types)


def xml_errors(
    operation: str, role: str, body: bytes | etree._Element, profile: str = "lenient"
) -> list[str]:
    """Violations of an XML body against its operation's XSD, one line each."""
    root = copy.deepcopy(body) if isinstance(body, etree._Element) else parse_xml(body)
    if profile == "lenient":
        types = declared_children(operation, role)
        root_type = types[""].get(str(root.tag))
        if root_type:
            prune_unknown(root, root_type, types)
    schema = xml_schema(operation, role)
    if schema.validate(root):
        return success_problems(operations()[operation], xml_to_data(root)) \
            if role == "response" else []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def success_problems(op: Operation, data: Any) -> list[str]:
    """A succeeded item without a field live clients read from it (op.success_fields:
    customer/add's user_id, which they send back as id=). The JSON schema says the
    same (its anyOf); XSD 1.0 cannot, so XML answers are held to it here."""
    out: list[str] = []
    for index, item in enumerate(envelope.answer_items(data, op.item)):
        status = item.get("item_status")
        if not (isinstance(status, dict) and status.get("success") == "true"):
            continue
        out.extend(f"{'/'.join(op.item)}[{index}]: a succeeded item has no {name}"
                   for name in op.success_fields if item.get(name) in (None, "", [], {}))
    return out

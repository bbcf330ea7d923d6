"""Assemble the OpenAPI 3.0.3 document from operations.yaml, the model, the
code table and the fixtures (every documented sample becomes a named example).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from capmock import fixtures
from capmock.openapi import codes
from capmock.openapi.build.error_bodies import (
    error_codes,
    item_error_body,
    render,
    request_error_body,
)
from capmock.openapi.build.jsonschema_gen import body_name, component_schemas, ref
from capmock.openapi.build.model import Model

JSON = "application/json"
XML = "application/xml"
PARAM_ORDER = ("name", "in", "required", "description", "schema", "style", "explode")
ERROR_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "404": "NotFound",
    "405": "MethodNotAllowed",
}


def assemble(src: dict[str, Any], model: Model) -> dict[str, Any]:
    """The whole document."""
    ops = src["operations"]
    roots = body_roots(ops)
    paths: dict[str, dict[str, Any]] = {}
    for op_id, op in ops.items():
        paths.setdefault(op["path"], {})[op["method"]] = {
            **operation(op_id, op, src), "x-capmock-success-fields": success_fields(op, model)}
    return {
        "openapi": "3.0.3",
        "info": src["info"],
        "servers": src["servers"],
        "security": [{"tillBasic": []}],
        "x-capmock-request-codes": request_codes(),
        "tags": src["tags"],
        "paths": paths,
        "components": {
            "schemas": component_schemas(model, roots),
            "responses": error_responses(),
            "securitySchemes": src["securitySchemes"],
        },
    }


def success_fields(op: dict[str, Any], model: Model) -> list[str]:
    """What a succeeded item of the operation's answer must carry (its type's
    _on_success), for the XML check the XSD cannot express (contract.xml_errors)."""
    type_name = op["response"]
    for key in op["item"]:
        props = {p.name: p.type for p in model.types[type_name].props}
        if key not in props:
            return []
        type_name = props[key]
    return list(model.types[type_name].on_success)


def body_roots(ops: dict[str, Any]) -> dict[str, str]:
    """Body type -> XML root element, for every request and response type."""
    roots = {"ErrorEnvelope": "response"}
    for op in ops.values():
        roots[op["response"]] = "response"
        if op.get("request"):
            roots[op["request"]] = "root"
    return roots


def operation(op_id: str, op: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op_id,
        "tags": ["customer"],
        "summary": op["summary"],
        "description": describe(op_id, op),
        "parameters": parameters(op_id, op, src["parameters"]),
    }
    if op.get("request"):
        out["requestBody"] = request_body(op_id, op)
    out["responses"] = responses(op_id, op)
    out.update(extensions(op_id, op))
    return out


def describe(op_id: str, op: dict[str, Any]) -> str:
    lines = [f"Document section: {op['section']}."]
    lines.append(f"Batch support: {'yes' if op['batch'] else 'no'}.")
    if op.get("identifiers"):
        names = ", ".join(op["identifiers"])
        lines.append(f"Identify the customer with at least one of: {names}.")
    if op.get("identifier_pair"):
        name, value = op["identifier_pair"]
        lines.append(f"Or name the identifier with {name} and its value(s) with {value}.")
    if op.get("also_methods"):
        also = ", ".join(m.upper() for m in op["also_methods"])
        lines.append(f"{also} answers as {op['method'].upper()} does (x-capmock-methods).")
    return " ".join(lines) + reference_note(op_id)


def reference_note(op_id: str) -> str:
    """Which rules of this operation come from the current reference or from live
    clients rather than the document (the register's rule_from), so the reference
    page says where each widening came from."""
    mined = fixtures.reference()["operations"].get(op_id)
    if mined is None:
        return ""
    note = (f"\n\nCurrent reference: {mined['method']} {mined['path']} "
            f"({mined['operationId']}).")
    for source, label in (("reference", "the current reference"), ("clients", "live clients")):
        ids = [d["id"] for d in fixtures.defects() if d["source"] == "reference"
               and op_id in d["operations"] and d["rule_from"] == source
               and d["contract"] in ("widened", "accepts", "refuses")]
        if ids:
            note += f" Rules taken from {label}: {', '.join(ids)} (docs/defects.md)."
    return note


def extensions(op_id: str, op: dict[str, Any]) -> dict[str, Any]:
    """Machine-readable facts the mock server and the suite rely on."""
    xsd = {"response": f"xsd/{op_id}.response.xsd"}
    if op.get("request"):
        xsd["request"] = f"xsd/{op_id}.request.xsd"
    return {
        "x-capmock-section": op["section"],
        "x-capmock-batch": op["batch"],
        "x-capmock-identifiers": op.get("identifiers", []),
        "x-capmock-identifier-pair": op.get("identifier_pair", []),
        "x-capmock-methods": [m.upper() for m in (op["method"], *op.get("also_methods", []))],
        "x-capmock-item": op["item"],
        "x-capmock-xsd": xsd,
        "x-capmock-codes": sorted(codes.codes_for(op_id)),
        "x-capmock-item-codes": item_codes(op_id),
    }


def request_codes() -> list[dict[str, Any]]:
    """The FACTS request-level codes with their messages, for readers of the
    document (the reference page) that should not have to parse codes.yaml."""
    return [{"code": c.code, "message": c.message, "success": c.success}
            for c in codes.request_codes().values()]


def item_codes(op_id: str) -> list[dict[str, Any]]:
    """The item codes of one operation with the message a response carries and
    the table's marks (per-referral: a referral's status, not item_status)."""
    table = codes.codes_for(op_id)
    return [{"code": code, "kind": table[code].kind, "message": table[code].wire_message,
             "marks": list(table[code].marks)} for code in sorted(table)]


def parameters(op_id: str, op: dict[str, Any], shared: dict[str, Any]) -> list[dict]:
    examples = url_examples(op_id)
    out = []
    for entry in op["parameters"]:
        param = {**shared[entry["use"]], **entry} if "use" in entry else dict(entry)
        param.pop("use", None)
        param = {k: param[k] for k in PARAM_ORDER if k in param}
        if param["name"] in examples:
            param["example"] = examples[param["name"]]
        out.append(param)
    return out


def url_examples(op_id: str) -> dict[str, str]:
    """Query parameters of the documented request URL of the default example."""
    sample = fixtures.find(op_id, "default", "request", "url")
    if sample is None:
        return {}
    first_line = sample.read_text().splitlines()[0]
    return dict(parse_qsl(urlsplit(first_line.split(" ", 1)[1]).query))


def media_examples(op_id: str, role: str, fmt: str) -> dict[str, Any]:
    """Named examples of one operation/role/format from the fixtures index."""
    out = {}
    for s in fixtures.samples_for(op_id):
        if (s.role, s.format) != (role, fmt):
            continue
        where = f"block {s.block}" if s.block else "derived"
        value = json.loads(s.read_text()) if fmt == "json" else s.read_text()
        out[s.example] = {"summary": f"{s.section}, {where}", "value": value}
    return out


def content(type_name: str, examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """JSON and XML media types: the JSON body wraps the root, XML is the root."""
    out: dict[str, Any] = {}
    for media, fmt, schema in ((JSON, "json", body_name(type_name)), (XML, "xml", type_name)):
        out[media] = {"schema": ref(schema)}
        if examples.get(fmt):
            out[media]["examples"] = examples[fmt]
    return out


def request_body(op_id: str, op: dict[str, Any]) -> dict[str, Any]:
    examples = {f: media_examples(op_id, "request", f) for f in ("json", "xml")}
    return {"required": True, "content": content(op["request"], examples)}


def responses(op_id: str, op: dict[str, Any]) -> dict[str, Any]:
    ok = {f: media_examples(op_id, "response", f) for f in ("json", "xml")}
    out: dict[str, Any] = {
        "200": {
            "description": "Request-level 200: every item succeeded.",
            "content": content(op["response"], ok),
        }
    }
    if op.get("links"):
        out["200"]["links"] = links(op["links"])
    if op["batch"]:
        out["201"] = {
            "description": "Request-level 201: some items failed; see each item_status.",
            "content": content(op["response"], {}),
        }
    out["500"] = {
        "description": "Request-level 500: every item failed; see each item_status.",
        "content": content(op["response"], failure_examples(op_id, op["item"])),
    }
    out.update({code: ref_response(name) for code, name in ERROR_RESPONSES.items()})
    out["default"] = ref_response("RequestError")
    return out


def failure_examples(op_id: str, item_path: list[str]) -> dict[str, Any]:
    """The body of the operation's first item-level error code."""
    errors = error_codes(op_id)
    if not errors:
        return {}
    body = item_error_body(op_id, item_path, errors[0])
    return {fmt: {f"code_{errors[0]}": example(body, errors[0], fmt)} for fmt in ("json", "xml")}


def example(body: dict[str, Any], code: int, fmt: str) -> dict[str, Any]:
    value = body if fmt == "json" else render(body, "xml").decode("utf-8")
    return {"summary": f"code {code}", "value": value}


def links(spec: dict[str, dict[str, str]]) -> dict[str, Any]:
    out = {}
    for target, mapping in spec.items():
        link: dict[str, Any] = {"operationId": target}
        if "requestBody" in mapping:
            link["requestBody"] = mapping["requestBody"]
        params = {k: v for k, v in mapping.items() if k != "requestBody"}
        if params:
            link["parameters"] = params
        out[target] = link
    return out


def ref_response(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def error_responses() -> dict[str, Any]:
    """Request-level failures: the envelope with the status block only."""
    out = {}
    for code, name in ERROR_RESPONSES.items():
        entry = codes.request_codes()[int(code)]
        body = request_error_body(int(code))
        examples = {fmt: {f"code_{code}": example(body, int(code), fmt)} for fmt in ("json", "xml")}
        out[name] = {"description": f"Request-level {code}: {entry.message}",
                     "content": content("ErrorEnvelope", examples)}
    out["RequestError"] = {
        "description": "Any other request-level failure of the FACTS table (402, 406-408).",
        "content": content("ErrorEnvelope", {}),
    }
    return out


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so XML examples stay readable; no
    anchors or aliases, which many OpenAPI tools do not follow."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


# Strings a YAML 1.2 parser (Prism, most JavaScript tools) would read as numbers,
# e.g. the coupon code 095790, which PyYAML (YAML 1.1) leaves unquoted.
YAML12_NUMBER = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+")


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else "'" if YAML12_NUMBER.fullmatch(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: dict[str, Any]) -> bytes:
    text = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text.encode("utf-8")

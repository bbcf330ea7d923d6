"""Derive the OpenAPI 3.0.3 component schemas from the data model.

Conventions (FACTS, Formats: the JSON is a mechanical conversion of the XML):
- a repeated element accepts one object or an array of them;
- an optional element may be empty: "" or null for a value, and "", null, []
  or {} for an element with children (the samples show all four);
- numeric strings also accept JSON numbers (samples show "200" and 200).
The published document is the lenient profile: undocumented extra properties
are allowed. contract.strict() derives the strict profile mechanically.
"""

from __future__ import annotations

from typing import Any

from capmock.openapi.build.model import Model, Prop, Scalar, TypeDef

REF = "#/components/schemas/"
EMPTY_VALUE = "EmptyValue"
EMPTY_CONTAINER = "EmptyContainer"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def scalar_schema(s: Scalar) -> dict[str, Any]:
    """The JSON schema of one scalar."""
    base: dict[str, Any] = {"type": "string"}
    if s.enum:
        base["enum"] = list(s.enum)
    if s.pattern:
        base["pattern"] = f"^{s.pattern}$"
    if s.json_number:
        return {"description": s.doc, "anyOf": [base, {"type": s.json_number}]}
    return {"description": s.doc, **base}


def empty_schemas() -> dict[str, Any]:
    """The two shapes an empty XML element takes in JSON."""
    return {
        EMPTY_VALUE: {
            "description": "An empty element: \"\" or null.",
            "type": "string",
            "maxLength": 0,
            "nullable": True,
        },
        EMPTY_CONTAINER: {
            "description": "An empty element with children: \"\", null, [] or {}.",
            "anyOf": [
                ref(EMPTY_VALUE),
                {"type": "array", "maxItems": 0},
                {"type": "object", "maxProperties": 0},
            ],
        },
    }


def prop_schema(p: Prop, model: Model) -> dict[str, Any]:
    """The JSON schema of one property, following the conventions above."""
    one = ref(p.type)
    choices: list[dict[str, Any]] = [one]
    if p.repeated:
        many: dict[str, Any] = {"type": "array", "items": one}
        if p.required:
            many["minItems"] = 1
        choices.append(many)
    if not p.required:
        choices.append(ref(EMPTY_VALUE if model.is_scalar(p.type) else EMPTY_CONTAINER))
    schema: dict[str, Any] = choices[0] if len(choices) == 1 else {"anyOf": choices}
    if p.doc:
        schema = {"description": p.doc, "allOf": [schema]}
    return schema


def type_schema(t: TypeDef, model: Model) -> dict[str, Any]:
    """The JSON schema of one type (an object)."""
    if t.opaque:
        return {"description": t.doc or "Undocumented content."}
    schema: dict[str, Any] = {"type": "object"}
    if t.doc:
        schema["description"] = t.doc
    required = [p.name for p in t.props if p.required]
    if required:
        schema["required"] = required
    schema["properties"] = {p.name: prop_schema(p, model) for p in t.props}
    if t.on_success:
        schema["anyOf"] = success_rule(t)
    return schema


def success_rule(t: TypeDef) -> list[dict[str, Any]]:
    """A succeeded item (item_status.success "true") carries each of t.on_success,
    not empty: either the fields are there, or the item failed. The branches
    have no `type`, so the strict profile leaves them open (contract.to_json_schema)."""
    types = {p.name: p.type for p in t.props}
    return [
        {"required": list(t.on_success),
         "properties": {name: ref(types[name]) for name in t.on_success}},
        {"properties": {"item_status": {"properties": {"success": {"enum": ["false"]}}}}},
    ]


def body_schema(root_element: str, type_name: str) -> dict[str, Any]:
    """A whole JSON body: {"root": ...} for requests, {"response": ...} for responses."""
    return {
        "type": "object",
        "required": [root_element],
        "properties": {root_element: ref(type_name)},
    }


def component_schemas(model: Model, roots: dict[str, str]) -> dict[str, Any]:
    """All component schemas; `roots` maps each body type to its XML root element."""
    out: dict[str, Any] = {}
    out.update({n: scalar_schema(s) for n, s in model.scalars.items()})
    out.update(empty_schemas())
    for name, t in model.types.items():
        schema = type_schema(t, model)
        if name in roots:
            schema["xml"] = {"name": roots[name]}
        out[name] = schema
    for type_name, element in roots.items():
        out[body_name(type_name)] = body_schema(element, type_name)
    return out


def body_name(type_name: str) -> str:
    return f"{type_name}Body"

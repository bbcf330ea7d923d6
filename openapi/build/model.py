"""The data model of schemas.yaml: scalars, types and their properties.

schemas.yaml is the single description of every body of the API; the JSON
Schema generator and the XSD generator both read it through this module, so
the two formats are derived from one source and cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

_KEY = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<repeated>\*?)(?P<required>!?)$")


class ModelError(ValueError):
    """schemas.yaml is inconsistent (unknown type, bad key ...)."""


@dataclass(frozen=True)
class Scalar:
    """A text value: free text, a pattern, or an enumeration."""

    name: str
    doc: str
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    json_number: str | None = None  # "integer" or "number" also accepted in JSON


@dataclass(frozen=True)
class Prop:
    """One child element / JSON property of a type."""

    name: str
    type: str
    required: bool
    repeated: bool
    doc: str | None = None


@dataclass(frozen=True)
class TypeDef:
    """An element with child elements (a JSON object)."""

    name: str
    doc: str | None
    props: tuple[Prop, ...]
    opaque: bool = False
    on_success: tuple[str, ...] = ()  # properties a succeeded item must carry, not empty

    @property
    def has_repeated(self) -> bool:
        return any(p.repeated for p in self.props)


@dataclass(frozen=True)
class Model:
    scalars: dict[str, Scalar]
    types: dict[str, TypeDef]

    def is_scalar(self, name: str) -> bool:
        return name in self.scalars

    def reachable(self, root: str) -> list[str]:
        """Names of the types and scalars reachable from `root`, root first."""
        seen: dict[str, None] = {}
        stack = [root]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen[name] = None
            if name in self.types:
                stack.extend(reversed([p.type for p in self.types[name].props]))
        return list(seen)


def parse_prop(key: str, value: Any, owner: str) -> Prop:
    """Parse one `name[*][!]: type` entry of a type."""
    match = _KEY.match(key)
    if not match:
        raise ModelError(f"{owner}: bad property key {key!r}")
    if isinstance(value, dict):
        type_name, doc = value.get("type"), value.get("doc")
    else:
        type_name, doc = value, None
    return Prop(
        name=match["name"],
        type=str(type_name),
        required=bool(match["required"]),
        repeated=bool(match["repeated"]),
        doc=doc,
    )


def parse_type(name: str, body: dict[str, Any]) -> TypeDef:
    props = tuple(parse_prop(k, v, name) for k, v in body.items() if not k.startswith("_"))
    on_success = tuple(body.get("_on_success") or ())
    unknown = set(on_success) - {p.name for p in props}
    if unknown:
        raise ModelError(f"{name}: _on_success names unknown properties {sorted(unknown)}")
    return TypeDef(name=name, doc=body.get("_doc"), props=props, opaque=bool(body.get("_opaque")),
                   on_success=on_success)


def parse_scalar(name: str, body: dict[str, Any]) -> Scalar:
    return Scalar(
        name=name,
        doc=body["doc"],
        pattern=body.get("pattern"),
        enum=tuple(str(v) for v in body.get("enum", ())),
        json_number=body.get("json_number"),
    )


def parse_model(data: dict[str, Any]) -> Model:
    """Build and check the model from the parsed YAML."""
    scalars = {n: parse_scalar(n, b) for n, b in data["scalars"].items()}
    types = {n: parse_type(n, b or {}) for n, b in data["types"].items()}
    for t in types.values():
        for p in t.props:
            if p.type not in scalars and p.type not in types:
                raise ModelError(f"{t.name}.{p.name}: unknown type {p.type!r}")
    return Model(scalars=scalars, types=types)


@cache
def load_model() -> Model:
    """The model from the packaged schemas.yaml."""
    text = resources.files("capmock.openapi").joinpath("src/schemas.yaml").read_text("utf-8")
    return parse_model(yaml.safe_load(text))

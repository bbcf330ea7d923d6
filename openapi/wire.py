"""The JSON wire profiles (platform, document) and the HTTP status policies.

One rule for the mock, the suite and the proxy alike; the rules are data
(wire.yaml). A profile is applied to a body's data by walking it with the
contract's component schemas, so it knows, for each key, the model type and
whether the element repeats:
- `platform`: every repeated element a JSON array (one item or many, [] for
  none); the fields wire.yaml lists as numbers or strings written so;
- `document`: the data unchanged (the samples as documented).
The XML is the same in both (the codec writes numbers as their text).

`errors` is the strict check of a body against a wire: what `render` would
change is what a server sent differently from the platform. This module
reads no file of the contract itself: `capmock.openapi.contract` hands it the
component schemas (`Profile`), so the two cannot import each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

WIRE_FILE = "wire.yaml"
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
_REF = "#/components/schemas/"


@cache
def rules() -> dict[str, Any]:
    text = resources.files("capmock.openapi").joinpath(WIRE_FILE).read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def wires() -> tuple[str, ...]:
    return tuple(rules()["wires"])


def default_wire() -> str:
    return str(rules()["default_wire"])


def http_status_policies() -> tuple[str, ...]:
    return tuple(rules()["http_status"])


def default_http_status() -> str:
    return str(rules()["default_http_status"])


def http_status(policy: str, request_code: int) -> int:
    """The HTTP status line of an answer whose response.status.code is `request_code`."""
    table = rules()["http_status"]
    if policy not in table:
        raise ValueError(f"unknown HTTP status policy {policy!r}; use one of "
                         f"{', '.join(table)}")
    ok = table[policy]
    return 200 if ok == "all" or request_code in ok else request_code


@dataclass(frozen=True)
class Child:
    """One property of an object type: its component schema and whether it repeats."""

    type: str
    repeated: bool


def _refs(schema: Mapping[str, Any]) -> list[str]:
    """The component names a property schema refers to, first choice first."""
    if "$ref" in schema:
        return [schema["$ref"].removeprefix(_REF)]
    out: list[str] = []
    for key in ("allOf", "anyOf"):
        for choice in schema.get(key, ()):
            out += _refs(choice) + _refs(choice.get("items", {}))
    return out


def _repeats(schema: Mapping[str, Any]) -> bool:
    for key in ("allOf", "anyOf"):
        for choice in schema.get(key, ()):
            if (choice.get("type") == "array" and "items" in choice) or _repeats(choice):
                return True
    return False


def _children(schemas: Mapping[str, Any]) -> dict[str, dict[str, Child]]:
    """type name -> {property: Child}, for every component with properties."""
    return {name: {prop: Child(_refs(s)[0], _repeats(s)) for prop, s in c["properties"].items()}
            for name, c in schemas.items() if "properties" in c}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def as_number(value: Any) -> Any:
    """A numeric text as a JSON number; anything else unchanged."""
    if isinstance(value, str):
        if _INTEGER.fullmatch(value):
            return int(value)
        if _DECIMAL.fullmatch(value):
            return float(value)
    return value


def as_string(value: Any) -> Any:
    """A number or boolean as the text the XML holds; anything else unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Profile:
    """The wire rules bound to the contract's component schemas."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.types = _children(schemas)
        platform = rules()["platform"]
        self.numbers = {t: set(f) for t, f in platform["numbers"].items()}
        self.strings = {t: set(f) for t, f in platform["strings"].items()}
        named = set(self.numbers) | set(self.strings)
        unknown = sorted(f"{t}.{f}" for t in named
                         for f in self.numbers.get(t, set()) | self.strings.get(t, set())
                         if f not in self.types.get(t, {}))
        if unknown:
            raise ValueError(f"{WIRE_FILE} names fields the contract lacks: {unknown}")

    def render(self, schema: str, data: Any, wire: str) -> Any:
        """`data` (a body of component schema `schema`) written for `wire`."""
        if wire not in wires():
            raise ValueError(f"unknown wire {wire!r}; use one of {', '.join(wires())}")
        return data if wire == "document" else self._object(schema, data)

    def _object(self, type_name: str, value: Any) -> Any:
        children = self.types.get(type_name)
        if children is None or not isinstance(value, dict):
            return value
        return {key: self._child(type_name, key, children.get(key), v)
                for key, v in value.items()}

    def _child(self, owner: str, key: str, child: Child | None, value: Any) -> Any:
        if child is None:
            return value
        if child.repeated:
            items = value if isinstance(value, list) else [] if _empty(value) else [value]
            return [self._one(owner, key, child, item) for item in items]
        return self._one(owner, key, child, value)

    def _one(self, owner: str, key: str, child: Child, value: Any) -> Any:
        if child.type in self.types:
            return self._object(child.type, value)
        if key in self.numbers.get(owner, ()):
            return as_number(value)
        if key in self.strings.get(owner, ()):
            return as_string(value)
        return value

    def errors(self, schema: str, data: Any, wire: str) -> list[str]:
        """Where `data` differs from `wire`'s form, one line each ("/path: ...")."""
        if wire not in wires():
            raise ValueError(f"unknown wire {wire!r}; use one of {', '.join(wires())}")
        out: list[str] = []
        if wire == "platform":
            self._check(schema, data, "", out)
        return out

    def _check(self, type_name: str, value: Any, path: str, out: list[str]) -> None:
        children = self.types.get(type_name)
        if children is None or not isinstance(value, dict):
            return
        for key, v in value.items():
            child = children.get(key)
            if child is None:
                continue
            where = f"{path}/{key}"
            if child.repeated and not isinstance(v, list):
                out.append(f"{where}: {_show(v)} is not a JSON array "
                           "(the platform sends every repeated element as an array)")
            items = v if isinstance(v, list) else [v]
            for index, item in enumerate(items):
                at = f"{where}/{index}" if isinstance(v, list) else where
                self._check_one(type_name, key, child, item, at, out)

    def _check_one(self, owner: str, key: str, child: Child, value: Any, where: str,
                   out: list[str]) -> None:
        if child.type in self.types:
            self._check(child.type, value, where, out)
        elif key in self.numbers.get(owner, ()) and not _empty(value) and not _is_number(value):
            out.append(f"{where}: {_show(value)} is not a JSON number (the platform sends one)")
        elif key in self.strings.get(owner, ()) and not isinstance(value, str):
            out.append(f"{where}: {_show(value)} is not a JSON string (the platform sends one)")


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."

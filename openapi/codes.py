"""Read access to the code table, ``codes.yaml``.

The table is data: this module only loads it (once), checks it against
``codes.schema.yaml`` and hands it out as frozen dataclasses. What each code
means, and which operations it applies to, is decided in the YAML file.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Any

import jsonschema

from capmock import fixtures

__all__ = [
    "CodeTableError",
    "ItemCode",
    "RequestCode",
    "Source",
    "WarningCode",
    "codes_for",
    "item_code",
    "item_codes",
    "operations",
    "request_codes",
    "validate",
    "warning_codes",
]

_PACKAGE = "capmock.openapi"
_TABLE = "codes.yaml"
_SCHEMA = "codes.schema.yaml"


class CodeTableError(ValueError):
    """The code table does not have the shape ``codes.schema.yaml`` describes."""


@dataclass(frozen=True)
class RequestCode:
    """A request-level code (``response.status``)."""

    code: int
    message: str
    success: bool


@dataclass(frozen=True)
class Source:
    """Where an item code comes from: a table row, a sample's section, or an
    example of the current reference (fixtures/reference.yaml)."""

    table: str | None = None
    row: int | None = None
    sample: str | None = None
    reference: str | None = None

    def __str__(self) -> str:
        if self.sample is not None:
            return f"sample in {self.sample!r}"
        if self.reference is not None:
            return f"current reference, {self.reference}"
        return f"{self.table} row {self.row}"


@dataclass(frozen=True)
class ItemCode:
    """An item-level code (``item_status``) and the operations it applies to."""

    code: int
    kind: str
    message: str
    operations: tuple[str, ...]
    sample_message: str | None
    marks: tuple[str, ...]
    note: str | None
    source: Source

    @property
    def wire_message(self) -> str:
        """The message a response carries: the sample's wording if any, else the table's."""
        return self.sample_message or self.message

    @property
    def success(self) -> bool:
        """Whether ``item_status.success`` is true for this code."""
        return self.kind == "success"


@dataclass(frozen=True)
class WarningCode:
    """A code of ``item_status.warnings.warning``; message None where no source
    gives its meaning."""

    code: int
    message: str | None
    operations: tuple[str, ...]
    note: str
    source: Source


def _read_yaml(name: str) -> Any:
    resource = files(_PACKAGE).joinpath(name)
    return fixtures.parse_yaml(resource.read_text(encoding="utf-8"))


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = _read_yaml(_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _entry_name(data: Any, path: list[str | int]) -> str:
    """Name the entry an error sits in, e.g. ``item_level[12] (code 1008)``."""
    if len(path) < 2 or not isinstance(path[1], int):
        return "/".join(map(str, path)) or "the table"
    section, index = path[0], path[1]
    entry = data[section][index]
    code = entry.get("code") if isinstance(entry, Mapping) else None
    return f"{section}[{index}]" + (f" (code {code})" if code is not None else "")


def _check_operations(data: Mapping[str, Any]) -> None:
    known = set(data["operations"])
    for section in ("item_level", "warnings"):
        for index, entry in enumerate(data[section]):
            unknown = [op for op in entry["operations"] if op not in known]
            if unknown:
                name = _entry_name(data, [section, index])
                raise CodeTableError(f"{_TABLE}: {name}: unknown operations {unknown}")


def _path_key(error: jsonschema.ValidationError) -> list[tuple[str, int]]:
    # Entry indexes sort as numbers, so the first bad entry is reported first.
    return [(p, -1) if isinstance(p, str) else ("", p) for p in error.absolute_path]


def validate(data: Any) -> None:
    """Check a loaded code table; raise CodeTableError naming the first bad entry."""
    errors = sorted(_validator().iter_errors(data), key=_path_key)
    if errors:
        error = errors[0]
        name = _entry_name(data, list(error.absolute_path))
        field = "/".join(map(str, list(error.absolute_path)[2:]))
        where = f"{name}, field {field!r}" if field else name
        raise CodeTableError(f"{_TABLE}: {where}: {error.message}")
    _check_operations(data)


@functools.cache
def _table() -> Mapping[str, Any]:
    data = _read_yaml(_TABLE)
    validate(data)
    return data


def _item(entry: Mapping[str, Any]) -> ItemCode:
    return ItemCode(
        code=entry["code"],
        kind=entry["kind"],
        message=entry["message"],
        operations=tuple(entry["operations"]),
        sample_message=entry["sample_message"],
        marks=tuple(entry["marks"]),
        note=entry["note"],
        source=Source(**entry["source"]),
    )


def operations() -> tuple[str, ...]:
    """The operation ids of the customer resource, in document order."""
    return tuple(_table()["operations"])


@functools.cache
def request_codes() -> Mapping[int, RequestCode]:
    """Request-level codes by number (read-only: built once, asked per request)."""
    entries = _table()["request_level"]
    return MappingProxyType({e["code"]: RequestCode(e["code"], e["message"], e["success"])
                             for e in entries})


@functools.cache
def item_codes() -> tuple[ItemCode, ...]:
    """Every item-level entry, in table order (one per table row, split rows twice)."""
    return tuple(_item(entry) for entry in _table()["item_level"])


@functools.cache
def warning_codes() -> tuple[WarningCode, ...]:
    """Every warning code, in table order."""
    return tuple(WarningCode(code=e["code"], message=e["message"],
                             operations=tuple(e["operations"]), note=e["note"],
                             source=Source(**e["source"]))
                 for e in _table()["warnings"])


@functools.cache
def _by_operation(operation: str) -> tuple[tuple[int, ItemCode], ...]:
    chosen: dict[int, ItemCode] = {}
    for entry in item_codes():
        if operation not in entry.operations:
            continue
        current = chosen.get(entry.code)
        # Several entries may share a number on one operation: the first with a
        # sample wording wins, else the first.
        if current is None or (current.sample_message is None and entry.sample_message):
            chosen[entry.code] = entry
    return tuple(chosen.items())


def _require_operation(operation: str) -> None:
    if operation not in operations():
        raise KeyError(f"unknown operation {operation!r}; known: {', '.join(operations())}")


def codes_for(operation: str) -> dict[int, ItemCode]:
    """The item codes that apply to an operation, by number."""
    _require_operation(operation)
    return dict(_by_operation(operation))


def item_code(operation: str, code: int) -> ItemCode:
    """The entry for one code on one operation; KeyError lists the applicable codes."""
    applicable = codes_for(operation)
    try:
        return applicable[code]
    except KeyError:
        listed = ", ".join(map(str, sorted(applicable)))
        raise KeyError(
            f"code {code} does not apply to {operation}; applicable codes: {listed}"
        ) from None

"""Replay: answer with a documented sample, or with a documented code (one
implementation of the answering port, mockserver/port.py; the other is the
sandbox).

`Prefer: example=NAME` picks another documented example; `Prefer: code=NNNN`
forces a code of the code table that applies to the operation (with
`item=N` only item N of a batch fails: request-level 201). Query parameters
`__example`, `__code`, `__item`, `__delay` do the same for clients that
cannot set headers.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

from capmock import fixtures
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.mockserver.port import Answer, Call, Choice
from capmock.openapi import codes, contract, envelope
from capmock.openapi.codec import data_to_json
from capmock.openapi.contract import Operation

BAD_REQUEST = 400
OK = 200
PREFER_KEYS = ("example", "code", "item", "delay")
MAX_DELAY_MS = 60_000
IDENTIFIERS = ("mobile", "email", "external_id", "user_id")


def prefer_pairs(request: MockRequest) -> dict[str, str]:
    """key=value pairs of the Prefer header(s) and of the __ query parameters."""
    pairs = {}
    for token in re.split(r"[,;]", request.header("prefer")):
        key, sep, value = token.strip().partition("=")
        if sep and key.strip().lower() in PREFER_KEYS:
            pairs[key.strip().lower()] = value.strip().strip('"')
    for name, value in request.query:
        if name.startswith("__") and name[2:] in PREFER_KEYS:
            pairs[name[2:]] = value
    return pairs


def as_int(pairs: dict[str, str], key: str, low: int, high: int) -> int | None:
    """pairs[key] as a number low-high, None when absent; 400 otherwise. ASCII
    digits only ("²".isdigit() is true, and int() refuses it), and no longer
    than `high` (int() refuses past 4300 digits)."""
    if key not in pairs:
        return None
    value = pairs[key]
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(high))) \
            or not low <= int(value) <= high:
        raise Rejection(BAD_REQUEST, f"Prefer {key}={value!r}: expected a number {low}-{high}")
    return int(value)


def choice(request: MockRequest) -> Choice:
    pairs = prefer_pairs(request)
    return Choice(
        example=pairs.get("example", "default"),
        code=as_int(pairs, "code", 100, 9999),
        item=as_int(pairs, "item", 1, 10_000),
        delay_ms=as_int(pairs, "delay", 0, MAX_DELAY_MS),
    )


@cache
def sample_bytes(operation: str, example: str, fmt: str) -> bytes | None:
    sample = fixtures.find(operation, example, "response", fmt)
    return sample.read_bytes() if sample else None


@cache
def sample_data(operation: str, example: str) -> dict[str, Any]:
    body = sample_bytes(operation, example, "json")
    if body is None:
        raise LookupError(f"{operation} has no JSON response sample {example!r}")
    return json.loads(body)


@cache
def examples(operation: str) -> tuple[str, ...]:
    names = dict.fromkeys(s.example for s in fixtures.samples_for(operation)
                          if s.role == "response")
    return tuple(names)


@cache
def wire_bytes(operation: str, example: str, fmt: str, wire: str) -> bytes | None:
    """A response sample's bytes on a JSON wire, computed once: the file itself
    for XML and for the document wire, its data written for the wire otherwise."""
    if fmt != "json" or wire == "document":
        return sample_bytes(operation, example, fmt)
    if sample_bytes(operation, example, fmt) is None:
        return None
    return data_to_json(contract.render(operation, "response", sample_data(operation, example),
                                        wire))


def documented(op: Operation, example: str, fmt: str, wire: str = "document") -> bytes:
    """The bytes of a documented response sample, or 400 naming the examples."""
    body = wire_bytes(op.id, example, fmt, wire)
    if body is None:
        raise Rejection(BAD_REQUEST, f"{op.id} has no example {example!r}; documented: "
                                     f"{', '.join(examples(op.id))}")
    return body


def applicable_code(op: Operation, code: int) -> codes.ItemCode:
    """The code table entry for a forced item code, or 400 listing the applicable ones."""
    try:
        entry = codes.item_code(op.id, code)
    except KeyError:
        entry = None
    if entry is None or "per-referral" in entry.marks:
        listed = ", ".join(str(c) for c in op.codes if c != code)
        raise Rejection(BAD_REQUEST, f"code {code} does not apply to {op.id}'s item_status; "
                                     f"applicable: {listed}") from None
    return entry


@cache
def identifier_patterns() -> dict[str, re.Pattern[str]]:
    """The response schema's pattern for each identifier (user_id is numeric)."""
    schemas = contract.spec()["components"]["schemas"]
    scalar = {"mobile": "mobile", "email": "email", "external_id": "external_id",
              "user_id": "numeric"}
    return {name: re.compile(schemas[s].get("pattern") or schemas[s]["anyOf"][0]["pattern"])
            for name, s in scalar.items()}


def echo(item: dict[str, Any]) -> dict[str, Any]:
    """The identifiers of a request item worth echoing: well-formed ones only, so
    an answer about an invalid identifier stays a valid response."""
    patterns = identifier_patterns()
    return {k: v for k, v in item.items() if k in IDENTIFIERS and isinstance(v, str)
            and v.isprintable() and patterns[k].search(v)}


def forced(op: Operation, want: Choice, request_items: list[dict[str, Any]]) -> dict:
    """The body for a forced code (item-level) as data."""
    code = want.code
    if code is None:
        raise ValueError("forced() needs the Choice of a forced code")
    if code in codes.request_codes() and code >= BAD_REQUEST and code != 500:
        raise Rejection(code, "forced by Prefer: code")
    entry = applicable_code(op, code)
    items = copy.deepcopy(envelope.answer_items(sample_data(op.id, want.example), op.item))
    status = envelope.item_status(op.id, code)
    if entry.kind == "success":
        for item in items:
            item["item_status"] = status
        return envelope.item_body(list(op.item), items, 200)
    count = max(len(items), len(request_items), 1)
    if want.item is not None and want.item > count:
        raise Rejection(BAD_REQUEST, f"item={want.item}: the request has {count} item(s)")
    failing = range(count) if want.item is None else [want.item - 1]
    return with_failures(op, items, dict.fromkeys(failing, status), request_items)


def with_failures(op: Operation, items: list[dict], failures: dict[int, dict],
                  request_items: list[dict[str, Any]]) -> dict[str, Any]:
    """Replace the failing items by their identifiers and item_status: 201 if
    some items still succeed, 500 if none does (FACTS, request-level table)."""
    items = list(items) or [{}]
    while len(items) < len(request_items):
        items.append(copy.deepcopy(items[-1]))
    for index, status in failures.items():
        source = request_items[index] if index < len(request_items) else {}
        items[index] = {**echo(source), "item_status": status}  # echo what was sent
    code = envelope.batch_code(index not in failures for index in range(len(items)))
    return envelope.item_body(list(op.item), items, code)


def failed(op: Operation, failures: dict[int, dict], request_items: list[dict[str, Any]]) -> dict:
    """The default sample's items (one per request item), the failing ones
    replaced by their identifiers and item_status: 201 or 500."""
    sample = envelope.answer_items(sample_data(op.id, "default"), op.item)
    return with_failures(op, sample[: max(len(request_items), 1)], failures, request_items)


class Replay:
    """The answering port of mode replay: every operation, from its samples."""

    stateful = False

    def handles(self, op: Operation) -> bool:
        return True

    def answer(self, call: Call) -> Answer:
        """Failing items (validation) first, else a forced code, else the example."""
        if call.failures:
            return Answer.of(failed(call.op, call.failures, call.items))
        if call.choice.code is not None:
            return Answer.of(forced(call.op, call.choice, call.items))
        return Answer(documented(call.op, call.choice.example, call.fmt, call.settings.wire),
                      OK)


REPLAY = Replay()

"""Injected faults: what a flaky network or proxy does to an answer.

`Prefer: fault=NAME` or `__fault=NAME` asks for one on a request;
`capmock serve --fault-rate P --fault-seed N` draws one for a share P of the
API's requests, the same ones for the same seed and order of requests (per
worker). The names, what each does and its shape are data (faults.yaml).
Never applied to the admin endpoints: only wsgi.mock_view asks.

No Flask here: `shape` gives the Content-Length to announce and the body's
chunks, which wsgi.py hands to the WSGI server.

Under granian (measured over a real socket): an exception raised by the body
iterator makes granian close the connection; raised before the first chunk,
the status line and headers have sometimes left already (granian writes them
while the body starts), so `reset` is "no byte of the body, and the
connection closed", seen by a client as a connection closed without a
response or an incomplete read of zero bytes. Raised after a chunk and a
short pause, the chunk arrives and the read is incomplete (`truncated`).
granian logs such an exception with its traceback; `Quiet` drops those
lines for our own `Injected` only, so a fault a client asked for does not
look like a bug in the server's log.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import yaml

from capmock.mockserver.access import PREFIX as ADMIN
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.mockserver.settings import Settings

BAD_REQUEST = 400
GRANIAN_LOGGER = "_granian.utils"  # where granian's Rust side logs an app's exception


@cache
def data() -> dict[str, Any]:
    text = resources.files("capmock.mockserver").joinpath("faults.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def kinds() -> tuple[str, ...]:
    return tuple(data()["faults"])


class Injected(ConnectionAbortedError):
    """Raised in a body iterator to make the WSGI server drop the connection."""


class Quiet(logging.Filter):
    """Drops granian's report of an Injected fault (it is not a bug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"{Injected.__name__}: capmock fault" not in record.getMessage()


QUIET = Quiet()


def check_kinds(value: str) -> tuple[str, ...]:
    """"a,b" -> ("a", "b"); "" -> every fault; ValueError naming the unknown ones."""
    names = tuple(n.strip() for n in value.split(",") if n.strip()) or kinds()
    unknown = [n for n in names if n not in kinds()]
    if unknown:
        raise ValueError(f"unknown fault {', '.join(unknown)}; faults: {', '.join(kinds())}")
    return names


class Plan(NamedTuple):
    kind: str
    source: str  # how it was asked for, for the journal


def requested(request: MockRequest) -> Plan | None:
    """The fault a request asks for (`Prefer: fault=` or `__fault=`; the query
    wins), None when none; an unknown name is a 400 listing the faults."""
    wanted = None
    prefer = request.headers.get("prefer", "")
    if "fault" in prefer:
        for token in re.split(r"[,;]", prefer):
            key, sep, value = token.strip().partition("=")
            if sep and key.strip().lower() == "fault":
                wanted = Plan(value.strip().strip('"'), "Prefer: fault")
    if "__fault" in request.query_string:
        for name, value in request.query:
            if name == "__fault":
                wanted = Plan(value, "__fault")
    if wanted is not None and wanted.kind not in kinds():
        raise Rejection(BAD_REQUEST, f"{wanted.source}={wanted.kind!r}: expected one of "
                                     f"{', '.join(kinds())}")
    return wanted


class Faults:
    """One worker's fault policy: asked per request, or drawn at --fault-rate."""

    def __init__(self, settings: Settings) -> None:
        self.rate = settings.fault_rate
        self.drawn = check_kinds(settings.fault_kinds)
        self.source = f"--fault-rate {settings.fault_rate} --fault-seed {settings.fault_seed}"
        self._random = random.Random(settings.fault_seed)
        self._lock = threading.Lock()
        logging.getLogger(GRANIAN_LOGGER).addFilter(QUIET)  # once: the same filter object

    def plan(self, request: MockRequest) -> Plan | None:
        """The fault for this request, if any (~0.2 us when none is asked for
        and the rate is 0); Rejection for an unknown name."""
        if request.path.startswith(ADMIN):
            return None
        if "prefer" in request.headers or "__fault" in request.query_string:
            asked = requested(request)
            if asked is not None:
                return asked
        if self.rate:
            with self._lock:
                if self._random.random() < self.rate:
                    return Plan(self._random.choice(self.drawn), self.source)
        return None


def shape(kind: str, body: bytes) -> tuple[int, Iterator[bytes]]:
    """(the Content-Length to announce, the body's chunks) of a fault."""
    if kind == "reset":
        return len(body), reset()
    if kind == "empty":
        return 0, iter(())
    if kind == "truncated":
        rule = data()["truncated"]
        return len(body), truncated(body[: int(len(body) * rule["fraction"])],
                                    rule["settle_ms"] / 1000)
    if kind == "slow":
        rule = data()["slow"]
        return len(body), slow(body, rule["pieces"], rule["interval_ms"] / 1000)
    if kind == "garbage":
        return max(len(body), 16), iter((garbage(max(len(body), 16)),))
    raise LookupError(kind)


def reset() -> Iterator[bytes]:
    raise Injected("capmock fault reset")
    yield b""  # a generator: raises when the server asks for the first chunk


def truncated(part: bytes, settle: float) -> Iterator[bytes]:
    yield part
    time.sleep(settle)
    raise Injected("capmock fault truncated")


def slow(body: bytes, pieces: int, interval: float) -> Iterator[bytes]:
    size = max(1, -(-len(body) // pieces))
    for start in range(0, len(body), size):
        if start:
            time.sleep(interval)
        yield body[start:start + size]


def garbage(length: int) -> bytes:
    """Bytes that no parser of JSON, XML or UTF-8 takes (0xFF first), the same
    for the same length."""
    return b"\xff" + random.Random(length).randbytes(length - 1)

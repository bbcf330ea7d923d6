"""The answering port: what answers a valid (or item-by-item failing) request.

Two implementations: replay (mockserver/replay.py, the documented samples and
forced codes) and the sandbox (mockserver/sandbox/service.py, a store). The
pipeline hands either one a `Call` and gets an `Answer` back: a value, also
when some items failed (request-level 201) or all did (500). Nothing here
imports Flask, replay or the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from capmock.mockserver.settings import Settings
from capmock.openapi import envelope
from capmock.openapi.contract import Operation


@dataclass(frozen=True)
class Choice:
    """What the client asked the mock for (Prefer: example=, code=, item=, delay=)."""

    example: str = "default"
    code: int | None = None
    item: int | None = None  # 1-based
    delay_ms: int | None = None


@dataclass
class Call:
    """One validated request, as a port (and the sandbox's handlers) see it."""

    op: Operation
    query: dict[str, str]  # first value of each query parameter
    items: list[dict[str, Any]]  # body items, or one {identifier: value} per GET identifier
    failures: dict[int, dict[str, str]] = field(default_factory=dict)  # index -> item_status
    settings: Settings = field(default_factory=Settings)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    choice: Choice = field(default_factory=Choice)
    fmt: str = "json"  # the negotiated format of the answer

    @property
    def timestamp(self) -> str:
        """Now, as the API writes times (yyyy-mm-dd hh:mm:ss)."""
        return self.now.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Answer:
    """A port's answer: the body as data (rendered in the negotiated format) or
    as bytes already in it (a documented sample, sent as written), and its
    request-level code."""

    body: dict[str, Any] | bytes
    request_code: int

    @classmethod
    def of(cls, data: dict[str, Any]) -> Answer:
        """An answer whose request-level code is the one its envelope carries."""
        code = envelope.request_code(data)
        if code is None:
            raise ValueError("an answer needs response.status.code")
        return cls(data, code)

    @property
    def partial(self) -> bool:
        """Some items failed, some did not (request-level 201)."""
        return self.request_code == envelope.PARTIAL_FAILURE


class AnsweringPort(Protocol):
    """Replay or the sandbox."""

    stateful: bool  # answers depend on what it holds (so they are never memoised)

    def handles(self, op: Operation) -> bool:
        """Does it answer this operation itself (else replay does)?"""
        ...

    def answer(self, call: Call) -> Answer:
        """The answer to a call; items in call.failures fail with their status."""
        ...

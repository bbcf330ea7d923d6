"""Answers forced from the admin surface: the next N requests (of one
operation, or any) are answered as if they carried a Prefer header.

A partner's test cannot always make the client under test send
`Prefer: code=1012`; POST /__capmock/force {"code": 1012, "operation":
"customer/get", "times": 1} does it for them (the pytest fixtures'
`capmock_mock.force(...)`). The request is then answered by the pipeline
exactly as one that sent the header (same checks, same refusals); the
journal keeps the request as it was sent, and says it was forced.

Kept in the worker's memory: with `--workers` > 1 each worker has its own
list (the fixtures start one worker).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace
from typing import Any

from capmock.mockserver import faults, replay
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.openapi import contract, routing

KEYS = ("code", "item", "example", "delay", "fault")
VALUE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_TIMES = 1_000_000


class BadForce(ValueError):
    """A force request that cannot be followed (answered 400, one line)."""


@dataclass
class Rule:
    prefer: str  # "code=1012, item=2"
    operation: str | None  # None: any request
    times: int | None  # None: until cleared

    def as_json(self) -> dict[str, Any]:
        return {"prefer": self.prefer, "operation": self.operation, "times": self.times}


def rule_of(body: Any) -> Rule:
    """A Rule from the JSON body of POST /__capmock/force, checked as the
    pipeline would check the Prefer header it stands for."""
    if not isinstance(body, dict):
        raise BadForce("expected a JSON object such as {\"code\": 1012, \"times\": 1}")
    unknown = sorted(set(body) - {*KEYS, "operation", "times"})
    if unknown:
        raise BadForce(f"unknown key {', '.join(unknown)}; keys: {', '.join(KEYS)}, "
                       "operation, times")
    pairs = [f"{key}={body[key]}" for key in KEYS if body.get(key) is not None]
    for key in KEYS:
        value = body.get(key)
        if value is not None and not (type(value) in (int, str) and VALUE.fullmatch(str(value))):
            raise BadForce(f"{key}: expected a number or a name, got {value!r}")
    if not pairs:
        raise BadForce(f"nothing to force: give one of {', '.join(KEYS)}")
    operation = body.get("operation")
    if operation is not None and operation not in contract.operations():
        raise BadForce(f"unknown operation {operation!r}; operations: "
                       f"{', '.join(sorted(contract.operations()))}")
    times = body.get("times", 1)
    if times is not None and (type(times) is not int or not 1 <= times <= MAX_TIMES):
        raise BadForce(f"times: expected a number 1-{MAX_TIMES} or null, got {times!r}")
    prefer = ", ".join(pairs)
    probe = MockRequest("GET", "/", headers={"prefer": prefer})
    try:
        replay.choice(probe)
        faults.requested(probe)
    except Rejection as error:
        raise BadForce(str(error.detail)) from None
    return Rule(prefer, operation, times)


class Forcing:
    """One worker's forced answers, first added first used."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []  # read without the lock on the hot path: empty = none
        self._lock = threading.Lock()

    def add(self, rule: Rule) -> None:
        with self._lock:
            self.rules.append(rule)

    def listed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_json() for rule in self.rules]

    def clear(self) -> int:
        with self._lock:
            count = len(self.rules)
            self.rules = []
            return count

    def apply(self, request: MockRequest) -> tuple[MockRequest, str | None]:
        """The request as the pipeline should see it, and what was forced (None: nothing)."""
        found = routing.route(request.method, request.path)
        operation = None if isinstance(found, routing.Refusal) else found.id
        with self._lock:
            rule = next((r for r in self.rules
                         if r.operation is None or r.operation == operation), None)
            if rule is None:
                return request, None
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self.rules = [r for r in self.rules if r is not rule]
        own = request.headers.get("prefer")
        prefer = f"{own}, {rule.prefer}" if own else rule.prefer
        return replace(request, headers={**request.headers, "prefer": prefer}), rule.prefer

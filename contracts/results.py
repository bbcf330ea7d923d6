"""The results of a conformance run as plain values: what the reports render
(contracts/report.py) and the pytest plugin judges, without schemathesis. The
runner folds schemathesis's events into them; a test builds them by hand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Cell:
    """One operation x format x check: how many responses it judged, and how."""

    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    unjudged: Counter[str] = field(default_factory=Counter)

    @property
    def judged(self) -> int:
        return self.passed + self.failed

    @property
    def state(self) -> str:
        if self.failed:
            return "fail"
        if self.passed:
            return "pass"
        return "skip"


@dataclass
class RunInfo:
    """What was run, where, when and how long: every report shows it."""

    base_url: str
    formats: tuple[str, ...]
    phases: tuple[str, ...]
    operations: tuple[str, ...]
    checks: tuple[str, ...]
    profile: str
    http_status: str
    wire: str
    max_examples: int
    seed: int
    workers: int
    request_timeout: float
    auth: bool
    started: str = ""
    duration_s: float = 0.0
    requests: int = 0
    stateful_server: bool | None = None
    stopped: str | None = None  # why the run ended early (--fail-fast)
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class Matrix:
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    info: RunInfo | None = None

    def cell(self, operation: str, fmt: str, check: str) -> Cell:
        return self.cells.setdefault((operation, fmt, check), Cell())

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.cells.values())

    def totals(self) -> dict[str, int]:
        """Cells by state, and the responses judged and failed over all cells."""
        states = Counter(c.state for c in self.cells.values())
        return {"cells": len(self.cells), "ok": states["pass"], "failed": states["fail"],
                "not_judged": states["skip"],
                "judgements": sum(c.judged for c in self.cells.values()),
                "failing_judgements": sum(c.failed for c in self.cells.values())}


def rows(matrix: Matrix) -> Iterator[tuple[str, str, str, Cell]]:
    for (op, fmt, check), cell in sorted(matrix.cells.items()):
        yield op, fmt, check, cell

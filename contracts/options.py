"""What a conformance run can be asked to do: shared by `capmock verify`, the
pytest plugin and the runner. Importing it does not import schemathesis, so
the pytest plugin costs nothing in sessions that do not use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMATS = ("json", "xml")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
MEDIA = {"json": "application/json", "xml": "application/xml"}


@dataclass(frozen=True)
class Options:
    """What `capmock verify` and the pytest plugin let a user choose."""

    base_url: str
    auth: str | None = None  # "TILL:PASSWORD"
    formats: tuple[str, ...] = FORMATS
    profile: str = "lenient"
    phases: tuple[str, ...] = PHASES
    operations: tuple[str, ...] = ()
    max_examples: int = 10
    workers: int = 1
    seed: int = 0
    http_status: str = "mirror"
    app: Any = None  # a WSGI app to test in-process instead of over HTTP
    stateful_checks: bool = True  # the runner turns them off when the server holds no state

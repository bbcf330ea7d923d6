"""What a conformance run can be asked to do: shared by `capmock verify`, the
pytest plugin and the runner. Importing it imports nothing heavy (no
schemathesis, no contract), so the CLI can check its arguments and the pytest
plugin can register its options at no cost.

`Options` is the one option table: each field that a user may set carries a
`Choice` (made by `option()`) saying its kind, allowed values and help; the click
command (contracts/cli.py) and the pytest plugin (contracts/plugin.py) build
their options from `table()`, so a new setting is declared here once and is
then `RunSettings.options.<name>` in every check (contracts/checks.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("json", "xml")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
PROFILES = ("lenient", "strict")  # capmock.openapi.contract.PROFILES; a test keeps them equal
# capmock.openapi.wire's HTTP status policies and JSON wires (a test keeps them equal)
HTTP_STATUS = ("platform", "mirror", "always-200")
WIRES = ("platform", "document")
MEDIA = {"json": "application/json", "xml": "application/xml"}

# The check names, declared once. By where they live: contracts/checks.py,
# contracts/stateful.py, schemathesis itself, and the one the runner keeps for
# answers that never came. Registered checks are named after these (a test
# holds the registry to them); reports, --checks and verdicts read them here.
STATELESS_CHECKS = (
    "json_conforms_to_schema",
    "xml_conforms_to_xsd",
    "format_is_honoured",
    "envelope_is_coherent",
    "request_id_is_unique",
    "documented_sample_is_accepted",
    "errors_are_documented",
)
STATEFUL_CHECKS = ("registrations_are_read_back", "identifiers_never_change",
                   "writes_are_read_back", "unknown_customer_is_not_found",
                   "identity_change_is_pending")
NEEDS_STATE = ("registrations_are_read_back", "identifiers_never_change",
               "writes_are_read_back", "unknown_customer_is_not_found")
WORKFLOW_ONLY = ("unknown_customer_is_not_found",)  # judged by the directed workflows only
BUILTIN_CHECKS = ("status_code_conformance", "content_type_conformance")
SERVER_ANSWERS = "server_answers"  # every request gets an HTTP answer within the time-out
CHECKS = (*STATELESS_CHECKS, *STATEFUL_CHECKS, SERVER_ANSWERS, *BUILTIN_CHECKS)


def operation_ids() -> tuple[str, ...]:
    """The contract's operationIds (loads the contract: called only when needed)."""
    from capmock.openapi import contract

    return tuple(contract.operations())


@dataclass(frozen=True)
class Choice:
    """How a front door offers one field of Options.

    kind: text, choice (one of `allowed`), csv (comma-separated values from
    `allowed`), int, float, flag or path (a file the run writes). `allowed`
    may be a callable, asked only when a value is checked. `low`/`high` bound
    numbers; the field's default is the option's."""

    kind: str
    help: str
    allowed: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    low: float | None = None
    high: float | None = None
    metavar: str | None = None
    required: bool = False

    def values(self) -> tuple[str, ...]:
        return self.allowed() if callable(self.allowed) else self.allowed


def option(default: Any, kind: str, help: str, **how: Any) -> Any:
    """A field of Options that users may set (see Choice)."""
    return dataclasses.field(default=default, metadata={"option": Choice(kind, help, **how)})


@dataclass(frozen=True)
class Options:
    """What `capmock verify` and the pytest plugin let a user choose (the fields
    made with option()), and what the runner decides for a run (the rest)."""

    base_url: str = option("", "text", "The server under test, e.g. http://127.0.0.1:8080",
                           required=True)
    auth: str | None = option(None, "text", "HTTP Basic as the platform expects it.",
                              metavar="TILL:PASSWORD")
    formats: tuple[str, ...] = option(FORMATS, "csv", "Formats to verify, in this order.",
                                      allowed=FORMATS)
    profile: str = option("lenient", "choice", "strict: undocumented fields are violations.",
                          allowed=PROFILES)
    phases: tuple[str, ...] = option(PHASES, "csv", "Phases to run.", allowed=PHASES)
    operations: tuple[str, ...] = option((), "csv", "Comma-separated operationIds "
                                         "(default: all).", allowed=operation_ids)
    checks: tuple[str, ...] = option((), "csv", "Run only these checks (default: all).",
                                     allowed=CHECKS)
    max_examples: int = option(10, "int", "Examples per operation and phase.", low=1)
    workers: int = option(1, "int", "Concurrent workers.", low=1, high=64)
    seed: int = option(0, "int", "Same seed, same requests.")
    http_status: str = option("platform", "choice", "The status-line policy the server "
                              "follows. platform: HTTP 200 for item-level outcomes (codes "
                              "200, 201, 500), the code for request-level errors; mirror: "
                              "HTTP status = response.status.code; always-200.",
                              allowed=HTTP_STATUS)
    wire: str = option("platform", "choice", "The JSON form the server is judged against "
                       "under --profile strict. platform: as live clusters send it (numeric "
                       "status.code, every repeated element an array, ...); document: the "
                       "samples' form.", allowed=WIRES)
    request_timeout: float = option(10.0, "float", "Seconds to wait for each answer.",
                                    low=0.1, high=600)
    fail_fast: bool = option(False, "flag", "Stop at the first failure.")
    show_secrets: bool = option(False, "flag", "Curl lines (and cassettes) carry the real "
                                "Authorization header.")
    har: str | None = option(None, "path", "Write the run's requests and answers here as a "
                             "HAR file (schemathesis's writer).")
    vcr: str | None = option(None, "path", "Write the run's requests and answers here as a "
                             "VCR cassette (schemathesis's writer).")
    app: Any = None  # a WSGI app to test in-process instead of over HTTP
    stateful_checks: bool = True  # the runner turns them off when the server holds no state

    def selected(self, check: str) -> bool:
        """Is this check part of the run (--checks; server_answers always is)?"""
        return not self.checks or check in self.checks or check == SERVER_ANSWERS


def table() -> list[tuple[str, Choice, Any]]:
    """(field name, how it is offered, default) for every user-settable option."""
    return [(f.name, f.metadata["option"], f.default) for f in dataclasses.fields(Options)
            if "option" in f.metadata]


def spelled(default: Any) -> str | None:
    """A default as a command line spells it ("json,xml"; None when there is none)."""
    if default in (None, "", ()):
        return None
    return ",".join(default) if isinstance(default, tuple) else str(default)


def unwritable(path: str | Path) -> str | None:
    """Why a run could not write this file (None if it can): opened for
    appending now, so a missing folder or a read-only file system shows before
    the run; a file created here is removed again."""
    path = Path(path)
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as error:
        return f"cannot write there ({error.strerror or error})"
    if not existed:
        path.unlink()
    return None


def split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def unknown(choice: Choice, values: tuple[str, ...]) -> list[str]:
    """The values a csv or choice option does not allow."""
    allowed = choice.values()
    return [v for v in values if v not in allowed]

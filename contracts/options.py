"""What a conformance run can be asked to do: shared by `capmock verify`, the
pytest plugin and the runner. Importing it imports nothing heavy (no
schemathesis, no contract), so the CLI can check its arguments and the pytest
plugin can register its options at no cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORMATS = ("json", "xml")
PHASES = ("examples", "coverage", "fuzzing", "stateful")
PROFILES = ("lenient", "strict")  # capmock.openapi.contract.PROFILES; a test keeps them equal
HTTP_STATUS = ("mirror", "always-200")
MEDIA = {"json": "application/json", "xml": "application/xml"}

# The checks, by where they live (contracts/checks.py, contracts/stateful.py,
# schemathesis itself) and the one the runner keeps for answers that never came.
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
BUILTIN_CHECKS = ("status_code_conformance", "content_type_conformance")
SERVER_ANSWERS = "server_answers"  # every request gets an HTTP answer within the time-out
CHECKS = (*STATELESS_CHECKS, *STATEFUL_CHECKS, SERVER_ANSWERS, *BUILTIN_CHECKS)


@dataclass(frozen=True)
class Options:
    """What `capmock verify` and the pytest plugin let a user choose."""

    base_url: str
    auth: str | None = None  # "TILL:PASSWORD"
    formats: tuple[str, ...] = FORMATS
    profile: str = "lenient"
    phases: tuple[str, ...] = PHASES
    operations: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()  # empty: every check
    max_examples: int = 10
    workers: int = 1
    seed: int = 0
    http_status: str = "mirror"
    request_timeout: float = 10.0  # seconds to wait for each answer
    fail_fast: bool = False  # stop at the first failure
    show_secrets: bool = False  # curl lines carry the real Authorization
    app: Any = None  # a WSGI app to test in-process instead of over HTTP
    stateful_checks: bool = True  # the runner turns them off when the server holds no state

    def selected(self, check: str) -> bool:
        """Is this check part of the run (--checks; server_answers always is)?"""
        return not self.checks or check in self.checks or check == SERVER_ANSWERS

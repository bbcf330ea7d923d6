"""capmock fuzzed by schemathesis's own CLI: `st run`, every phase (examples,
coverage, fuzzing, stateful), against a real `capmock serve` in replay and in
sandbox mode.

Whatever schemathesis sends, the mock must answer in its envelope: never
FACTS 407 "Unknown Error" (a bug in capmock), never a 5xx other than the
documented HTTP 500 envelope (all items failed), never a non-envelope page.
And what a write accepted must read back in both formats without a 407.
Checked by st's `not_a_server_error` (with 500 among the expected statuses:
mirrored request-level 500 is documented), by `capmock_envelope_holds` and
`capmock_writes_read_back` (fuzz_checks.py), and by the server log having no
"unexpected error" trace.

Bounded and reproducible: `--generation-deterministic` (a fixed generation,
no random seed, no example database), `--max-examples` 5 (replay) and 20
(sandbox), one worker; the sandbox is reset before each phase (one st run a
phase), so a phase's findings do not depend on the others'. About 37 and 55 s
on these shared 2-core machines under load (the coverage phase, ~8,000
cases a mode, is most of it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from servedmock import http, served

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
DOCUMENT = HERE.parents[1] / "openapi" / "capillary-customer-v1.1.yaml"
ST = str(Path(sys.executable).with_name("st"))
CONFIG = """\
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "500"]
"""
ADMIN = {"X-Capmock-Admin": "1"}  # an admin write the admin guard lets through
MODES = {"replay": ["--mode", "replay"], "sandbox": ["--mode", "sandbox", "--store", ":memory:"]}
# Test cases per operation in the fuzzing phase. The sandbox gets more: what
# it stores is where hostile text did harm, and with 20 the run finds the 407s
# of the code before issue 12 (5 did not); replay's coverage phase is most of its run.
MAX_EXAMPLES = {"replay": 5, "sandbox": 20}


PHASES = ("examples", "coverage", "fuzzing", "stateful")


def st_run(base: str, tmp_path: Path, max_examples: int,
           phases: tuple[str, ...]) -> tuple[subprocess.CompletedProcess, Path]:
    """One `st run` of `phases`; its result and its JUnit report."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    junit = tmp_path / f"junit-{'-'.join(phases)}.xml"
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_checks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [ST, "--config-file", str(config), "run", str(DOCUMENT), "--url", base,
         "--phases", ",".join(phases),
         "--checks", "not_a_server_error,capmock_envelope_holds,capmock_writes_read_back",
         "--max-examples", str(max_examples), "--generation-deterministic", "--workers", "1",
         "--no-color", "--report", "junit", "--report-junit-path", str(junit)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    return result, junit


def runs(mode: str) -> list[tuple[str, ...]]:
    """The phases of each st run: replay holds no state, so one run does them
    all; the sandbox is reset before each phase, so what a phase finds does
    not depend on what another left behind (every phase meets the sandbox a
    partner meets: the document's customers)."""
    return [PHASES] if mode == "replay" else [(phase,) for phase in PHASES]


MIN_REQUESTS = 1000  # far fewer means st did not really fuzz (a broken run, not a pass)


def answered_requests(base: str) -> int:
    """How many requests the mock answered: the journal's entries and those it
    dropped to stay within its budget (it was never cleared)."""
    status, raw = http(f"{base}/__capmock/journal")
    assert status == 200, raw[:300]
    journal = json.loads(raw)
    return len(journal["entries"]) + journal["dropped"]


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(test cases, failures, errors) of st's JUnit report."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    return (total, sum(int(s.get("failures", 0)) for s in suites),
            sum(int(s.get("errors", 0)) for s in suites))


@pytest.mark.parametrize("mode", list(MODES))
def test_st_run_finds_no_unknown_error_and_no_bare_server_error(
        mode: str, tmp_path: Path, record_property: Any) -> None:
    log = tmp_path / "serve.log"
    with served(*MODES[mode], log=log) as base:
        for phases in runs(mode):
            if mode == "sandbox":
                assert http(f"{base}/__capmock/sandbox/reset", b"", ADMIN)[0] == 200
            result, junit = st_run(base, tmp_path, MAX_EXAMPLES[mode], phases)
            report = f"phases {phases}:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
            assert result.returncode == 0, report
            tests, failures, errors = junit_counts(junit)
            assert tests > 0 and failures == 0 and errors == 0, report
        answered = answered_requests(base)
    record_property("requests_answered", answered)  # in the JUnit report
    print(f"{mode}: {answered} fuzzed requests answered, no 407")
    assert answered > MIN_REQUESTS, f"only {answered} requests reached the mock"
    assert "unexpected error" not in log.read_text(errors="replace"), log.read_text()[-4000:]

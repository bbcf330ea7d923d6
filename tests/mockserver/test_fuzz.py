"""capmock fuzzed by schemathesis's own CLI: `st run`, every phase (examples,
coverage, fuzzing, stateful), against a real `capmock serve` in replay and in
sandbox mode.

Whatever schemathesis sends, the mock must answer in its envelope: never
FACTS 407 "Unknown Error" (a bug in capmock), never a 5xx other than the
documented HTTP 500 envelope (all items failed), never a non-envelope page.
Checked by st's `not_a_server_error` (with 500 among the expected statuses:
mirrored request-level 500 is documented) and by `capmock_envelope_holds`
(fuzz_checks.py), and by the server log having no "unexpected error" trace.

Bounded and reproducible: `--generation-deterministic` (no random seed, no
example database), `--max-examples 5`, one worker; about 30 s a mode on
these machines (the coverage phase is most of it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from servedmock import served

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent
DOCUMENT = HERE.parents[1] / "openapi" / "capillary-customer-v1.1.yaml"
ST = str(Path(sys.executable).with_name("st"))
CONFIG = """\
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "500"]
"""
MODES = {"replay": ["--mode", "replay"], "sandbox": ["--mode", "sandbox", "--store", ":memory:"]}


def st_run(base: str, tmp_path: Path) -> subprocess.CompletedProcess:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_checks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [ST, "--config-file", str(config), "run", str(DOCUMENT), "--url", base,
         "--phases", "examples,coverage,fuzzing,stateful",
         "--checks", "not_a_server_error,capmock_envelope_holds",
         "--max-examples", "5", "--generation-deterministic", "--workers", "1",
         "--no-color", "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(test cases, failures, errors) of st's JUnit report."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    return (total, sum(int(s.get("failures", 0)) for s in suites),
            sum(int(s.get("errors", 0)) for s in suites))


@pytest.mark.parametrize("mode", list(MODES))
def test_st_run_finds_no_unknown_error_and_no_bare_server_error(mode: str,
                                                                 tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with served(*MODES[mode], log=log) as base:
        result = st_run(base, tmp_path)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    tests, failures, errors = junit_counts(tmp_path / "junit.xml")
    assert tests >= 19 and failures == 0 and errors == 0, report
    assert "unexpected error" not in log.read_text(errors="replace"), log.read_text()[-4000:]

"""The partner's pytest plugin (mockserver/pytest_plugin.py): its how-to
examples (docs/examples/partner) pass as a partner runs them, it costs nothing
in a session that does not use it, its failures say what differed, and the
servers it starts are stopped, never orphaned."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from capmock.mockserver import pytest_plugin

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples" / "partner"


def pytest_in(folder: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=folder, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)


def test_the_examples_pass_as_a_partner_runs_them() -> None:
    result = pytest_in(EXAMPLES, "-q", "-rA")
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"(\d+) passed", result.stdout)
    collected = len(re.findall(r"^PASSED ", result.stdout, re.M))
    assert passed and int(passed[1]) == collected >= 10, result.stdout


UNRELATED = '''
import sys

def test_unrelated():
    loaded = {m for m in sys.modules if m.startswith(("capmock", "flask", "granian", "yaml"))}
    assert loaded <= {"capmock", "capmock.mockserver", "capmock.mockserver.pytest_plugin",
                      "capmock.contracts", "capmock.contracts.plugin",
                      "capmock.contracts.options"}, loaded
    from capmock.mockserver import pytest_plugin
    assert pytest_plugin.RUNNING == []
'''


def test_a_session_without_the_fixtures_loads_and_starts_nothing(tmp_path: Path) -> None:
    (tmp_path / "test_unrelated.py").write_text(UNRELATED)
    result = pytest_in(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_options_are_namespaced(tmp_path: Path) -> None:
    result = pytest_in(tmp_path, "--help")
    group = result.stdout[result.stdout.index("capmock mock"):]
    group = group[: group.index("\n\n")]
    options = re.findall(r"^\s+(--[\w-]+)", group, re.M)
    assert options == ["--capmock-mock-mode", "--capmock-mock-args", "--capmock-mock-url"]
    assert "capmock_mock_mode" in result.stdout and "capmock_mock_args" in result.stdout


FAILING = '''
def test_expects_another_mobile(capmock_mock):
    import urllib.request
    urllib.request.urlopen(capmock_mock.api_url + "/customer/get?mobile=19889999999").read()
    capmock_mock.journal.assert_requested(operation="customer_get",
                                          query={"mobile": "447000000001"})
'''


def test_a_failed_assertion_says_what_came_closest(tmp_path: Path) -> None:
    (tmp_path / "test_failing.py").write_text(FAILING)
    result = pytest_in(tmp_path, "-q", "--capmock-mock-args", "--workers 1")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert ("expected 1 request with operation=customer_get, query.mobile=447000000001, got 0"
            in out), out
    assert "closest: GET /v1.1/customer/get?mobile=19889999999 -> 200" in out
    assert "differs: query.mobile was '19889999999'" in out


ORPHAN = '''
import os, signal

def test_dies(capmock_mock):
    print("SERVE-PID", capmock_mock.process.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no teardown, no atexit: the server must still go
'''


def test_the_server_dies_with_the_test_process(tmp_path: Path) -> None:
    (tmp_path / "test_orphan.py").write_text(ORPHAN)
    result = pytest_in(tmp_path, "-q", "-s")
    found = re.search(r"SERVE-PID (\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    pid = int(found[1])
    deadline = time.monotonic() + 20
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
        if "State:\tZ" in status:
            break
        time.sleep(0.1)
    alive = Path(f"/proc/{pid}").exists() and "State:\tZ" not in Path(
        f"/proc/{pid}/status").read_text()
    if alive:
        os.killpg(pid, 9)
    assert not alive, "capmock serve outlived the killed test process"


def test_credentials_come_from_the_serve_options() -> None:
    assert pytest_plugin.credentials(["--auth", "till1:123"]) == "Basic dGlsbDE6MTIz"
    assert pytest_plugin.credentials(["--auth=till1:123", "--admin-auth", "a:b"]) == "Basic YTpi"
    assert pytest_plugin.credentials(["--mode", "sandbox"]) is None


def test_unknown_journal_filters_are_refused_before_asking() -> None:
    with pytest.raises(TypeError, match="unknown journal filter 'colour'"):
        pytest_plugin.filter_pairs({"colour": "red"})
    assert pytest_plugin.filter_pairs({"status": [200, 201], "query": {"mobile": "1"}}) == [
        ("status", "200"), ("status", "201"), ("query.mobile", "1")]

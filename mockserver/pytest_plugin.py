"""pytest fixtures for partners: the mock inside their own test suite.

Installed as the pytest11 entry point `capmock-mock` (separate from the
conformance suite's `capmock`, contracts/plugin.py). At import it needs only
the standard library and pytest, and it starts nothing until a test asks for
one of its fixtures:

- `capmock_mock`: a real `capmock serve` process (replay by default) on a
  free loopback port, started once per session and reset before each test
  that uses it (journal cleared, forced answers dropped, sandbox back to its
  seed). Its `.url`, `.api_url`, `.journal` (find / count / assert helpers
  whose failures say what differed) and `.force(code=..., fault=...)`.
- `capmock_sandbox`: the same in sandbox mode.
- `capmock_mock_factory`: `capmock_mock_factory(mode, *serve_args)`, one
  server per distinct arguments, all stopped at the end of the session.
- The marker `@pytest.mark.capmock_mock(mode="sandbox", args=[...])` picks
  the server `capmock_mock` gives a test; `--capmock-mock-mode`,
  `--capmock-mock-args` (and the ini keys capmock_mock_mode,
  capmock_mock_args) the session's default; `--capmock-mock-url` uses a mock
  that is already running instead of starting one.

The server is `capmock serve --port 0` (the port the kernel chose, read from
its first line), ready when /__capmock/health answers; it is stopped at the
end of the session, killed with its workers if it does not stop, and on
Linux it is told to stop when the test process dies (PR_SET_PDEATHSIG), so
it is never orphaned.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

GROUP = "capmock mock"
MODES = ("replay", "sandbox")
READY_SECONDS = 60.0  # a loaded 2-core machine may take a while
STOP_SECONDS = 15.0
LISTENING = re.compile(r"mock on http://([^/\s]+):(\d+)/")
FILTER_KEYS = ("operation", "method", "path", "format", "status", "code", "item_code",
               "outcome", "fault")
RUNNING: list[MockServer] = []  # stopped at exit too, should a session end abruptly


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "capmock mock (the fixtures capmock_mock, capmock_sandbox)")
    group.addoption("--capmock-mock-mode", choices=MODES, default=None,
                    help="Mode of capmock_mock's server: replay (default) or sandbox.")
    group.addoption("--capmock-mock-args", default=None, metavar="ARGS",
                    help="More `capmock serve` options for the fixtures' servers, "
                         "e.g. '--auth till1:123 --default-format xml'.")
    group.addoption("--capmock-mock-url", default=None, metavar="URL",
                    help="Use this running mock instead of starting one.")
    parser.addini("capmock_mock_mode", "capmock_mock's mode: replay or sandbox",
                  default="replay")
    parser.addini("capmock_mock_args", "More `capmock serve` options for the fixtures' servers",
                  default="")
    parser.addini("capmock_mock_url", "A running mock the fixtures use instead of starting one",
                  default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "capmock_mock(mode='replay', args=()): the capmock server (mode and extra "
                   "`capmock serve` options) the capmock_mock fixture gives this test")


class MockError(Exception):
    """The mock could not be started, or an admin request failed."""


def credentials(args: Sequence[str]) -> str | None:
    """The admin endpoints' Authorization for these serve options (--admin-auth,
    else --auth; the admin endpoints take the password as typed)."""
    found: dict[str, str] = {}
    for index, arg in enumerate(args):
        for name in ("--auth", "--admin-auth"):
            if arg == name and index + 1 < len(args):
                found[name] = args[index + 1]
            elif arg.startswith(name + "="):
                found[name] = arg.split("=", 1)[1]
    pair = found.get("--admin-auth") or found.get("--auth")
    return "Basic " + base64.b64encode(pair.encode()).decode() if pair else None


def filter_pairs(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """find(operation="customer_get", query={"mobile": "1"}) -> the journal's query pairs."""
    pairs: list[tuple[str, str]] = []
    for key, value in filters.items():
        if key in ("query", "headers"):
            prefix = "query." if key == "query" else "header."
            for name, wanted in dict(value).items():
                pairs += [(prefix + name, str(v)) for v in as_list(wanted)]
        elif key in FILTER_KEYS:
            pairs += [(key, str(v)) for v in as_list(value)]
        else:
            raise TypeError(f"unknown journal filter {key!r}; filters: "
                            f"{', '.join(FILTER_KEYS)}, query={{...}}, headers={{...}}")
    return pairs


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set) else [value]


def described(entry: dict[str, Any]) -> str:
    query = f"?{entry['query']}" if entry.get("query") else ""
    return (f"{entry['method']} {entry['path']}{query} -> {entry['status']} "
            f"({entry['outcome']}: {entry['reason']})")


class Journal:
    """The mock's request journal, as a test reads it."""

    def __init__(self, mock: MockServer) -> None:
        self._mock = mock

    def entries(self) -> list[dict[str, Any]]:
        return self._mock.admin("GET", "/journal")["entries"]

    def search(self, endpoint: str = "find", closest: int = 0,
               **filters: Any) -> dict[str, Any]:
        pairs = filter_pairs(filters) + ([("closest", str(closest))] if closest else [])
        query = urllib.parse.urlencode(pairs)
        return self._mock.admin("GET", f"/journal/{endpoint}?{query}")

    def find(self, **filters: Any) -> list[dict[str, Any]]:
        """The entries matching every filter, oldest first: operation, method, path,
        format, status, code, item_code, outcome, fault (a list: any of them),
        query={"mobile": "..."}, headers={"x-cap-api-oauth-token": ...}."""
        return self.search(**filters)["entries"]

    def count(self, **filters: Any) -> int:
        return int(self.search("count", **filters)["count"])

    def unmatched(self, **filters: Any) -> list[dict[str, Any]]:
        """The requests that matched no operation or were refused, with the reason."""
        return self.search("unmatched", **filters)["entries"]

    def clear(self) -> int:
        return int(self._mock.admin("DELETE", "/journal")["cleared"])

    def assert_requested(self, times: int | None = 1, **filters: Any) -> list[dict[str, Any]]:
        """The matching entries; AssertionError unless there are `times` of them
        (None: at least one), saying what came closest and what differed."""
        found = self.search(closest=3, **filters)
        count = found["count"]
        if count == times or (times is None and count):
            return found["entries"]
        wanted = "at least 1" if times is None else str(times)
        lines = [f"expected {wanted} request{'' if times == 1 else 's'} with "
                 f"{found['filter']}, got {count}"]
        lines += [f"  matched: {described(entry)}" for entry in found["entries"][:5]]
        if not count:
            lines += [f"  closest: {described(near)}; differs: "
                      + ", ".join(f"{key} was {value!r}" for key, value in near["differs"].items())
                      for near in found.get("closest", [])] or ["  the journal holds nothing"]
        if found["dropped"]:
            lines.append(f"  ({found['dropped']} older entries were dropped: --journal-size)")
        raise AssertionError("\n".join(lines))

    def assert_not_requested(self, **filters: Any) -> None:
        self.assert_requested(times=0, **filters)


class MockServer:
    """One `capmock serve` (or the running mock at --capmock-mock-url)."""

    def __init__(self, mode: str, args: Sequence[str], url: str | None = None) -> None:
        self.mode, self.args = mode, tuple(args)
        self.url = url.rstrip("/") if url else ""
        self.authorization = credentials(self.args)
        self.journal = Journal(self)
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Path | None = None

    @property
    def api_url(self) -> str:
        """The API's base, as a cluster's https://HOST/v1.1: http://127.0.0.1:PORT/v1.1"""
        return f"{self.url}/v1.1"

    def command(self, folder: Path) -> list[str]:
        script = Path(sys.executable).with_name("capmock")
        base = [str(script)] if script.exists() else [
            sys.executable, "-c", "import sys; from capmock.openapi.cli import main; "
                                  "sys.exit(main())"]
        store = ([] if self.mode != "sandbox" or any(a.startswith("--store") for a in self.args)
                 else ["--store", str(folder / "sandbox.sqlite")])
        return [*base, "serve", "--host", "127.0.0.1", "--port", "0", "--mode", self.mode,
                "--no-access-log", *store, *self.args]

    def start(self) -> MockServer:
        if self.url:
            self.wait_ready(None)
            return self
        folder = Path(tempfile.mkdtemp(prefix="capmock-mock-"))
        self.log = folder / "serve.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command(folder), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
        RUNNING.append(self)
        try:
            self.url = self.wait_port()
            self.wait_ready(self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log else ""

    def wait_port(self) -> str:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            found = LISTENING.search(self.output())
            if found:
                return f"http://{found[1]}:{found[2]}"
            if self.process is not None and self.process.poll() is not None:
                raise MockError(f"capmock serve exited ({self.process.returncode}):\n"
                                f"{self.output()}")
            time.sleep(0.05)
        raise MockError(f"capmock serve did not say its port in {READY_SECONDS:.0f} s:\n"
                        f"{self.output()}")

    def wait_ready(self, process: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                self.admin("GET", "/health")
                return
            except (OSError, MockError):
                if process is not None and process.poll() is not None:
                    raise MockError(f"capmock serve exited:\n{self.output()}") from None
                if time.monotonic() > deadline:
                    raise MockError(f"no answer from {self.url}/__capmock/health in "
                                    f"{READY_SECONDS:.0f} s:\n{self.output()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if self in RUNNING:
            RUNNING.remove(self)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:  # the whole group: granian's workers too
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """One admin request (/__capmock/...), its JSON answer; MockError unless 2xx."""
        headers = {"X-Capmock-Admin": "1", "Content-Type": "application/json"}
        if self.authorization:
            headers["Authorization"] = self.authorization
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/__capmock{path}", data, headers,
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                text = json.loads(text)["error"]
            raise MockError(f"{method} /__capmock{path}: {error.code} {text}") from None

    def force(self, code: int | None = None, *, operation: str | None = None,
              item: int | None = None, example: str | None = None, delay: int | None = None,
              fault: str | None = None, times: int | None = 1) -> None:
        """Answer the next `times` requests (of `operation`; None: until reset) as
        if they sent `Prefer: code=..., item=..., example=..., delay=..., fault=...`."""
        body = {"code": code, "item": item, "example": example, "delay": delay, "fault": fault,
                "operation": operation, "times": times}
        self.admin("POST", "/force", {k: v for k, v in body.items()
                                      if v is not None or k == "times"})

    def reset(self) -> None:
        """The journal cleared, forced answers dropped, the sandbox back to its seed."""
        self.admin("DELETE", "/journal")
        self.admin("DELETE", "/force")
        if self.mode == "sandbox":
            self.admin("POST", "/sandbox/reset")


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test process dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@atexit.register
def stop_all() -> None:
    for server in list(RUNNING):
        server.stop()


class Factory:
    """The session's servers, one per (mode, serve options)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.servers: dict[tuple[str, tuple[str, ...]], MockServer] = {}

    def option(self, name: str) -> str:
        value = self.config.getoption(f"--capmock-mock-{name}")
        return value if value is not None else str(self.config.getini(f"capmock_mock_{name}"))

    def __call__(self, mode: str | None = None, *args: str) -> MockServer:
        mode = mode or self.option("mode") or "replay"
        if mode not in MODES:
            raise MockError(f"capmock mock mode {mode!r}: expected replay or sandbox")
        full = (*shlex.split(self.option("args")), *args)
        key = (mode, full)
        if key not in self.servers:
            self.servers[key] = MockServer(mode, full, self.option("url") or None).start()
        return self.servers[key]

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


@pytest.fixture(scope="session")
def capmock_mock_factory(pytestconfig: pytest.Config) -> Iterator[Callable[..., MockServer]]:
    """capmock_mock_factory(mode="replay", *serve_args): a started server, one per
    distinct arguments in the session, all stopped when it ends."""
    factory = Factory(pytestconfig)
    yield factory
    factory.close()


@pytest.fixture
def capmock_mock(request: pytest.FixtureRequest,
                 capmock_mock_factory: Callable[..., MockServer]) -> MockServer:
    """The session's mock (marker capmock_mock(mode=..., args=...) or the options),
    reset for this test."""
    marker = request.node.get_closest_marker("capmock_mock")
    mode = marker.kwargs.get("mode") if marker else None
    args = tuple(marker.kwargs.get("args", ())) if marker else ()
    server = capmock_mock_factory(mode, *args)
    server.reset()
    return server


@pytest.fixture
def capmock_sandbox(capmock_mock_factory: Callable[..., MockServer]) -> MockServer:
    """The session's sandbox-mode mock, reset to its seed for this test."""
    server = capmock_mock_factory("sandbox")
    server.reset()
    return server

"""Fixtures of the sandbox tests: a store of each kind, and real `capmock serve`
processes on a store.

`store_url` runs a test once per store: SQLite (a file in tmp_path, cheap) and
PostgreSQL (a fresh database per test on the server at CAPMOCK_TEST_POSTGRES,
default postgresql://postgres@127.0.0.1:5432/test, dropped afterwards). Where no
PostgreSQL answers, the PostgreSQL runs are skipped and say why; `.ci/run`
starts one first (`.ci/postgres`).

Tests that need PostgreSQL otherwise carry the `requires_postgres` marker
(`-m "not requires_postgres"` deselects them); the `postgres_url` fixture gives
such a test a fresh database of its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ADMIN_URL_ENV = "CAPMOCK_TEST_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
CAPMOCK = str(Path(sys.executable).with_name("capmock"))
READY_SECONDS = 30  # a noisy 2-core machine may take a while to spawn the workers


# --- PostgreSQL ------------------------------------------------------------------------

def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV) or DEFAULT_ADMIN_URL


def where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


@cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can (asked once)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    url = admin_url()
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        return (f"no PostgreSQL on {where(url)}: {reason}; .ci/run starts one "
                f"(.ci/postgres), or set {ADMIN_URL_ENV}")
    return None


def require_postgres() -> None:
    """Skip the calling test, saying why, when no PostgreSQL answers."""
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("requires_postgres") is not None:
        require_postgres()


def admin_execute(statement: str) -> None:
    import psycopg

    with psycopg.connect(admin_url(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement)


def create_database() -> str:
    import psycopg

    name = f"capmock_{uuid.uuid4().hex[:16]}"
    for attempt in range(5):
        try:  # fails while another session is connected to the template: retry
            admin_execute(f"CREATE DATABASE {name}")
            return name
        except psycopg.errors.ObjectInUse:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def drop_database(name: str) -> None:
    """WITH (FORCE): a killed server's connections may linger."""
    admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Databases:
    """Fresh databases, one per test. CREATE DATABASE costs a few hundred
    milliseconds (it copies and syncs the template), so two threads create the
    next database and drop the used ones while the tests run."""

    def __init__(self) -> None:
        self.worker = ThreadPoolExecutor(2, thread_name_prefix="capmock-test-databases")
        self.spare: Future[str] | None = None
        self.dropping: list[Future[None]] = []

    def take(self) -> str:
        ready = self.spare or self.worker.submit(create_database)
        self.spare = self.worker.submit(create_database)
        return ready.result()

    def give_back(self, name: str) -> None:
        self.dropping.append(self.worker.submit(drop_database, name))

    def settle(self) -> None:
        """Wait until the threads are idle: a test that forks wants no thread
        busy (holding locks the child would inherit)."""
        wait([*self.dropping, *([self.spare] if self.spare else [])])
        self.dropping.clear()

    def close(self) -> None:
        if self.spare is not None:
            with suppress(Exception):  # a failed creation left nothing to drop
                self.give_back(self.spare.result())
        self.worker.shutdown(wait=True)
        for dropped in self.dropping:
            dropped.result()  # a database left behind is an error


@pytest.fixture(scope="session")
def databases() -> Iterator[Databases]:
    pool = Databases()
    yield pool
    pool.close()


@contextmanager
def fresh_database(pool: Databases) -> Iterator[str]:
    """A new, empty database on the test server (its URL), dropped afterwards."""
    require_postgres()
    name = pool.take()
    try:
        yield urlsplit(admin_url())._replace(path=f"/{name}").geturl()
    finally:
        pool.give_back(name)


@pytest.fixture
def postgres_url(databases: Databases) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (skips when there is no server)."""
    with fresh_database(databases) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a sandbox store lives, once per kind: a SQLite file or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "sandbox.sqlite")
        return
    with fresh_database(request.getfixturevalue("databases")) as url:
        yield url


# --- capmock serve as a real process -----------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `capmock serve` process group (granian's main process and workers)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
        self.done = False  # the process group is gone
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [CAPMOCK, "serve", "--port", str(self.port), *args], stdout=out,
                stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"capmock serve exited early:\n{self.output()}")
            with suppress(OSError):
                if request(self.base + "/__capmock/health", timeout=2)[0] == 200:
                    break
            time.sleep(0.05)
        else:
            pytest.fail(f"capmock serve did not get ready in {READY_SECONDS} s:\n"
                        f"{self.output()}")
        # One worker answers; the others may still be opening the store. A worker
        # that gets SIGTERM while starting is only killed after granian's 5 s.
        while self.output().count("Started worker-") < self.workers and \
                time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM, as a supervisor stops it; the exit code. Granian stops its
        workers before it exits; after a failure, kill() ends any left behind."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self.done = code == 0
        return code

    def kill(self) -> None:
        """SIGKILL to the whole process group: no worker gets to clean up."""
        if self.done:  # its group is gone: the id may belong to another one by now
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)
        self.done = True

    def post(self, path: str, items: list[dict[str, Any]], timeout: float = 30) -> \
            tuple[int, dict[str, Any]]:
        body = json.dumps({"root": {"customer": items}}).encode()
        status, raw = request(f"{self.base}/v1.1/customer/{path}?format=json", body, timeout)
        return status, json.loads(raw)

    def add(self, customer: dict[str, Any], timeout: float = 30) -> tuple[int, dict[str, Any]]:
        """Register one customer: the HTTP status and the answer's item (the platform's
        JSON, the default: customers.customer is an array, of one here)."""
        status, answer = self.post("add", [customer], timeout)
        (item,) = answer["response"]["customers"]["customer"]
        return status, item

    @staticmethod
    def acknowledged(status: int, item: dict[str, Any]) -> bool:
        """The server says the registration is stored: HTTP 200 and item code 1000 (the
        platform's HTTP status policy answers an item failure with HTTP 200 too)."""
        return status == 200 and item.get("item_status", {}).get("code") == "1000"

    def get(self, query: str, timeout: float = 30) -> dict[str, Any]:
        """customer/get of one customer: the answer's item (of a one-item array)."""
        raw = request(f"{self.base}/v1.1/customer/get?format=json&{query}", None, timeout)[1]
        (item,) = json.loads(raw)["response"]["customers"]["customer"]
        return item


def request(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers),
                                    timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """serve(*args, env=None): a ready `capmock serve --mode sandbox *args`; every
    one still running at the end of the test is killed."""
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        server = Server(["--mode", "sandbox", "--no-access-log", *args],
                        tmp_path / f"serve-{len(started)}.log", env)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()  # unless stopped cleanly: the whole group, workers included


def sandbox_mobiles(url: str) -> list[str]:
    """The mobile of every customer the store holds (read through the store's export)."""
    from capmock.mockserver.sandbox import transfer
    from capmock.mockserver.sandbox.store import open_store

    store = open_store(url)
    try:
        return [c["mobile"] for c in transfer.export(store)["customers"] if c.get("mobile")]
    finally:
        store.close()


@pytest.fixture
def stored_mobiles() -> Callable[[str], list[str]]:
    """stored_mobiles(url): the mobiles a store holds (conftest is not importable)."""
    return sandbox_mobiles


@pytest.fixture(params=["memory", pytest.param("postgresql", marks=pytest.mark.requires_postgres)])
def both_stores(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a module's API-level tests on SQLite (in memory) and on a fresh
    PostgreSQL database: sandboxhelpers.sandbox() uses it (autouse it)."""
    from sandboxhelpers import STORE, close_stores

    if request.param == "memory":
        yield ":memory:"
        return
    with fresh_database(request.getfixturevalue("databases")) as url:
        STORE["default"] = url
        try:
            yield url
        finally:
            close_stores()  # before the database is dropped
            STORE["default"] = ":memory:"

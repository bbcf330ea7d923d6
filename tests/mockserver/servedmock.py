"""`capmock serve` as a real process (granian), for the tests that need the
real server's handling of bodies and paths: start it on a free loopback
port, wait until it answers, stop it (imported by module name)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

CAPMOCK = str(Path(sys.executable).with_name("capmock"))
READY_SECONDS = 30  # a loaded 2-core machine may take a while


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         method: str | None = None, timeout: float = 60) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, body, headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@contextmanager
def served(*args: str, log: Path) -> Iterator[str]:
    """A ready `capmock serve --no-access-log *args`; its base URL. Killed afterwards."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen([CAPMOCK, "serve", "--port", str(port), "--no-access-log",
                                    *args], stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"capmock serve exited early:\n{log.read_text()}")
            with suppress(OSError):
                if http(base + "/__capmock/health", timeout=2)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"capmock serve was not ready in {READY_SECONDS} s")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # the whole group: granian's workers too
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

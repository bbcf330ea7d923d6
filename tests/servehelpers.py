"""Running `capmock serve` (or `capmock proxy`) as a real process, and talking
HTTP/1.1 to it over plain sockets (imported by module name)."""

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
from dataclasses import dataclass
from pathlib import Path

import pytest

CAPMOCK = str(Path(sys.executable).with_name("capmock"))
HOST = "127.0.0.1"
HEALTH = b"GET /__capmock/health HTTP/1.1\r\nHost: capmock\r\n\r\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(base: str, process: subprocess.Popen, seconds: float = 15,
               path: str = "/__capmock/health") -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        assert process.poll() is None, "the server exited early"
        try:
            get(base + path, timeout=2)
            return time.monotonic() - started
        except OSError:
            time.sleep(0.05)
    pytest.fail("the server did not get ready")


@dataclass
class Running:
    base: str
    port: int
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")


@contextmanager
def running(log: Path, *args: str, command: str = "serve",
            ready_path: str = "/__capmock/health",
            env: dict[str, str] | None = None) -> Iterator[Running]:
    """`capmock COMMAND --port P ARGS` until the block ends (then killed)."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([CAPMOCK, command, "--port", str(port), *args],
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                   env=env)
    base = f"http://{HOST}:{port}"
    try:
        wait_ready(base, process, path=ready_path)
        yield Running(base, port, process, log)
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """Kill the server's whole process group: killing granian's master alone
    leaves its workers running, orphaned, after the test."""
    with suppress(ProcessLookupError):  # the group is gone: every process of it exited
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def connect(port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body); its status line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer (got {data[:60]!r})")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of a body")
        body += chunk
    return head.split(b"\r\n", 1)[0]


def ask(sock: socket.socket, request: bytes = HEALTH) -> bytes:
    sock.sendall(request)
    return read_response(sock)


def closed_by_server(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes the connection; None if it is still
    open after `seconds` (a reset counts as closed)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def children(pid: int) -> set[int]:
    """The process's direct children (Linux /proc), e.g. granian's workers."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(FileNotFoundError):  # a thread that ended since the listing
            found.update(int(child) for child in (task / "children").read_text().split())
    return found


def listening(pids: set[int], port: int) -> set[int]:
    """Those of `pids` that hold a socket listening on `port` (Linux /proc).
    granian binds one SO_REUSEPORT socket per worker on Linux, so a worker
    takes connections only from then on; a spawned one has not yet."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(f"socket:[{fields[9]}]")
    return {pid for pid in pids if inodes & open_files(pid)}


def open_files(pid: int) -> set[str]:
    """What the process's file descriptors point at ('socket:[inode]' ...);
    empty for a process that is gone, without those closed meanwhile."""
    found = set()
    with suppress(FileNotFoundError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with suppress(FileNotFoundError):
                found.add(str(fd.readlink()))
    return found

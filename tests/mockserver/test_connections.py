"""Every connection is served: idle and slow clients cost a socket, not a
worker (issue 12). Real `capmock serve` processes, real sockets, loopback.

Margins are wide (the machine's speed varies 2x); what each test tells apart
is seconds-vs-never, or a one-second time-out vs the 30 s default.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from servehelpers import (
    CAPMOCK,
    HOST,
    ask,
    children,
    closed_by_server,
    connect,
    free_port,
    get,
    listening,
    running,
)

from capmock.mockserver.serve import THREADS  # the old code served only this many connections

pytestmark = pytest.mark.slow
PROMPT_S = 3.0  # an answer on an idle machine takes milliseconds


def test_idle_keep_alive_connections_do_not_stop_other_clients(tmp_path: Path) -> None:
    """16 keep-alive connections (4x the threads) each get their answer and stay
    open, idle; a 17th client is still answered at once."""
    with running(tmp_path / "serve.log", "--no-access-log") as server:
        idle = [connect(server.port, PROMPT_S) for _ in range(4 * THREADS)]
        try:
            assert [ask(sock) for sock in idle] == [b"HTTP/1.1 200 OK"] * len(idle)
            started = time.monotonic()
            with connect(server.port, PROMPT_S) as other:
                assert ask(other) == b"HTTP/1.1 200 OK"
            assert time.monotonic() - started < PROMPT_S
            # the idle ones are still usable: keep-alive was not given up to get there
            assert ask(idle[-1]) == b"HTTP/1.1 200 OK"
        finally:
            for sock in idle:
                sock.close()


def dribble(socks: list[socket.socket], request: bytes, seconds: float) -> dict[int, float]:
    """Send `request` one byte at a time, 10 bytes a second, on every socket at
    once, for up to `seconds`; when each socket was cut off by the server
    (seconds from the start), for those that were."""
    started = time.monotonic()
    cut: dict[int, float] = {}
    for position in range(len(request)):
        for index, sock in enumerate(socks):
            if index in cut:
                continue
            try:
                sock.send(request[position:position + 1])
            except OSError:
                cut[index] = time.monotonic() - started
        if len(cut) == len(socks) or time.monotonic() - started > seconds:
            break
        time.sleep(0.1)
    return cut


def test_slowloris_is_cut_off_by_the_header_time_out_and_blocks_no_one(
        tmp_path: Path) -> None:
    """8 clients sending headers byte by byte (2x the threads): another client
    is answered meanwhile, and each of them is cut off after --idle-timeout 1."""
    with running(tmp_path / "serve.log", "--no-access-log", "--idle-timeout", "1") as server:
        slow = [connect(server.port, PROMPT_S) for _ in range(2 * THREADS)]
        try:
            for sock in slow:
                sock.send(b"G")
            started = time.monotonic()
            with connect(server.port, PROMPT_S) as other:
                assert ask(other) == b"HTTP/1.1 200 OK"
            assert time.monotonic() - started < PROMPT_S
            request = b"ET /__capmock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 200
            cut = dribble(slow, request, seconds=10)
            assert sorted(cut) == list(range(len(slow))), "a slow client was never cut off"
            assert max(cut.values()) < 6  # 1 s time-out; the default would be 30 s
        finally:
            for sock in slow:
                sock.close()


def test_idle_time_out_closes_idle_connections_but_not_slow_answers(tmp_path: Path) -> None:
    with running(tmp_path / "serve.log", "--no-access-log", "--idle-timeout", "1") as server:
        with connect(server.port, PROMPT_S) as kept_alive:
            assert ask(kept_alive) == b"HTTP/1.1 200 OK"
            closed = closed_by_server(kept_alive, 8)
        assert closed is not None and 0.5 < closed < 6, closed
        with connect(server.port, PROMPT_S) as silent:  # opened, never sends a byte
            closed = closed_by_server(silent, 8)
        assert closed is not None and closed < 6, closed
        with connect(server.port, 10) as waiting:  # an answer slower than the time-out
            delayed = (b"GET /v1.1/customer/get?mobile=19889999999 HTTP/1.1\r\n"
                       b"Host: 127.0.0.1\r\nPrefer: delay=2000\r\n\r\n")
            assert ask(waiting, delayed) == b"HTTP/1.1 200 OK"


def test_a_killed_worker_is_respawned_and_the_server_keeps_answering(tmp_path: Path) -> None:
    """Both workers listening, one is killed: granian starts another, and the
    server answers once the dead one is gone. (Each worker holds its own
    SO_REUSEPORT socket: killing the only one listening yet would refuse
    connections until the next binds, so the test waits for 2 listening
    workers, not 2 processes; and a connection the kernel queued on the dying
    worker's socket is reset, so it asks only after the dead one is reaped.)"""
    with running(tmp_path / "serve.log", "--workers", "2", "--no-access-log") as server:
        deadline = time.monotonic() + 30  # a worker loads the app in ~1 s, more under load
        while len(workers := listening(children(server.process.pid), server.port)) < 2:
            assert time.monotonic() < deadline, "granian did not start 2 listening workers"
            time.sleep(0.1)
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        while not (new := listening(children(server.process.pid), server.port) - workers) \
                or victim in children(server.process.pid):  # a new worker, the dead one reaped
            assert server.process.poll() is None, f"the server exited:\n{server.output()}"
            assert time.monotonic() < deadline, "no new listening worker"
            time.sleep(0.1)
        assert len(new) == 1
        for _ in range(20):  # on fresh connections, spread over both workers
            assert get(server.base + "/v1.1/customer/get?mobile=19889999999")[0] == 200
        assert server.process.poll() is None
        assert "Respawning worker" in server.output()


def refused(*args: str, cwd: Path | None = None, timeout: float = 20) -> str:
    """Run capmock with args; it must exit 2 with one line on stderr: that line."""
    try:
        result = subprocess.run([CAPMOCK, *args], capture_output=True, text=True,
                                timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        pytest.fail(f"capmock {' '.join(args)} did not exit: it started instead of refusing")
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_port_held_by_another_program_is_one_line_and_exit_2() -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        line = refused("serve", "--port", str(port))
    assert f"{HOST}:{port} is already in use" in line


def test_a_port_held_by_another_capmock_is_not_shared(tmp_path: Path) -> None:
    """granian binds with SO_REUSEPORT: without the check, the second server
    started and took half the requests."""
    with running(tmp_path / "first.log", "--no-access-log") as first:
        line = refused("serve", "--port", str(first.port), "--workers", "2")
        assert "is already in use" in line
        line = refused("proxy", "--upstream", first.base, "--port", str(first.port))
        assert "is already in use" in line
        assert first.process.poll() is None


def test_host_must_be_an_ip_address() -> None:
    assert "expected an IP address" in refused("serve", "--host", "localhost",
                                               "--port", str(free_port()))


@pytest.mark.parametrize("store", ["sqlite:///sandbox.db", "mysql://root@localhost/capmock",
                                   "postgressql://postgres@127.0.0.1/capmock"])
def test_an_unknown_store_scheme_is_refused_and_creates_nothing(tmp_path: Path,
                                                                store: str) -> None:
    line = refused("serve", "--mode", "sandbox", "--store", store, "--port", str(free_port()),
                   cwd=tmp_path)
    assert f"--store {store}: unknown scheme" in line
    assert refused("seed", os.devnull, "--store", store, cwd=tmp_path) == line
    assert list(tmp_path.iterdir()) == []


def test_the_proxy_serves_past_its_threads_too(tmp_path: Path) -> None:
    """capmock proxy has 32 threads: 40 idle keep-alive connections to it, and
    another client still gets its answer through it."""
    with running(tmp_path / "mock.log", "--no-access-log") as mock, \
            running(tmp_path / "proxy.log", "--upstream", mock.base, command="proxy",
                    ready_path="/__capmock/violations") as proxy:
        idle = [connect(proxy.port, PROMPT_S) for _ in range(40)]
        try:
            assert all(ask(sock) == b"HTTP/1.1 200 OK" for sock in idle)
            with connect(proxy.port, PROMPT_S) as other:
                assert ask(other) == b"HTTP/1.1 200 OK"
        finally:
            for sock in idle:
                sock.close()

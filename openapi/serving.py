"""Granian for `capmock serve` and `capmock proxy`: one port, fair connections.

Both commands serve a WSGI app factory on granian with the same connection
policy, so it lives here, in the lowest layer both may import:

- **Connections cost a socket, not a thread.** granian's `backpressure` is a
  per-worker semaphore held by each open *connection* for its whole life (not
  by each request); set to the thread count, four idle keep-alive connections
  stopped a worker for everyone else (issue 12). It is now `--max-connections`
  (1024 per worker): an idle or slow client holds a socket and a Rust task,
  and requests wait for the worker's Python threads in one FIFO queue.
- **One time-out bounds idle and slow clients** (`--idle-timeout`, 30 s).
  hyper, under granian, has a single HTTP/1 timer: from the moment a
  connection opens or answers a request, the next request's head must be
  complete within it, or the connection is closed. It therefore closes idle
  keep-alive connections and cuts off slow header senders (slowloris) alike;
  a separate idle value is impossible without patching hyper. 30 s is hyper's
  and granian's default: far above what any client needs to send a request
  head, and long enough that connection pools (urllib3, httpx, browsers),
  which drop or retry a connection the server closed while idle, rarely race
  the close. A request being answered is not timed (a `Prefer: delay` longer
  than the time-out is answered), and the request body is not either: a
  client that sends a body slowly holds one of the worker's threads until it
  is done (granian reads bodies in the Python thread).
- **HTTP/1.1 only.** In granian's default "auto" mode, hyper-util sniffs the
  first bytes for an HTTP/2 preface with no timer, so a connection that sent
  nothing at all was never closed (measured: still open after 20 s with a
  2 s time-out; closed after 2 s in HTTP/1 mode). The API is HTTP/1.1, and
  h2c needs prior knowledge that no client of it has.
- **Dead workers are respawned** (granian's `respawn_failed_workers`); a
  worker that dies again within 5.5 s of its respawn stops the server
  (granian's crash-loop rule), so a broken start-up still fails.
- **The port is ours alone.** granian binds one SO_REUSEPORT socket per
  worker (the kernel balances connections over them), which lets any process
  of the same user that asks for SO_REUSEPORT bind the same port and take a
  share of the requests, silently. Before granian starts, `prepare` binds the
  port with a plain socket, which fails whoever holds it (a capmock, or any
  other program), and holds a lock named by the address (a Linux
  abstract-namespace socket, freed by the kernel when the server exits), so
  two capmocks started at the same moment cannot both pass. One shared
  socket instead of SO_REUSEPORT would also shut out a *later* program that
  asks for SO_REUSEPORT, but was measured to put 27-31 of wrk's 32 connections
  on one of two workers (4,000-5,600 req/s against 7,700-9,400): the kernel's
  balancing is kept, and that residual case is documented.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

IDLE_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 1024  # per worker; granian's own default is 1024 / workers
RESERVED_FILES = 256  # per worker, beside its connections: libraries, stores, journal, pipes
WORKER_KILL_TIMEOUT_S = 5


class CliError(click.ClickException):
    """A command that cannot run as asked (port in use, bad address, unknown
    store): one line on stderr ("Error: ..."), exit 2, and no usage text, which
    would not help."""

    exit_code = 2


@dataclass
class Serving:
    """A port that nobody held when checked, the lock that keeps another
    capmock off it until this process exits, and the connection policy."""

    host: str
    port: int
    lock: socket.socket | None
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS


def family(host: str) -> socket.AddressFamily:
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        raise CliError(f"--host {host}: expected an IP address such as 127.0.0.1 or ::1 "
                         "(granian does not resolve names)") from None
    return socket.AF_INET6 if version == 6 else socket.AF_INET


def bind_error(host: str, port: int, error: OSError) -> CliError:
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if error.errno == errno.EADDRINUSE:
        return CliError(f"{where} is already in use (by another capmock or another "
                          "program); choose another --port")
    if error.errno == errno.EACCES:
        return CliError(f"{where}: permission denied (ports below 1024 need privileges); "
                          "choose another --port")
    if error.errno == errno.EADDRNOTAVAIL:
        return CliError(f"--host {host} is not an address of this machine")
    return CliError(f"cannot listen on {where}: {error.strerror}")


def probe_bind(host: str, port: int) -> int:
    """Bind and listen on the port without SO_REUSEPORT, then let go; the port
    (the one the kernel chose, for port 0). SO_REUSEADDR only lets the bind
    pass connections of an earlier server still in TIME_WAIT, never a
    listening socket."""
    with socket.socket(family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError as error:
            raise bind_error(host, port, error) from None
        return sock.getsockname()[1]


def hold_lock(host: str, port: int) -> socket.socket | None:
    """An abstract Unix socket named by the address: only one process can bind
    it, and it disappears with the process (crash and kill -9 included).
    None where abstract sockets do not exist (not Linux): the bind probe alone."""
    if not sys.platform.startswith("linux"):
        return None
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock.bind(f"\0capmock-port:{host}:{port}")
    except OSError as error:
        lock.close()
        if error.errno == errno.EADDRINUSE:
            raise bind_error(host, port, error) from None
        raise
    return lock


def fit_open_files(connections: int, explicit: bool) -> int:
    """Raise the soft open-files limit (inherited by the workers) to what the
    connections need, as far as the hard limit allows; the connections that
    fit. A worker out of descriptors would spin on failing accepts, so an
    explicit --max-connections that cannot fit is an error, and the default
    shrinks to fit."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return connections
    if explicit:
        raise CliError(f"--max-connections {connections} needs {wanted} open files per "
                         f"worker; the limit is {soft} (ulimit -n): lower it or raise the limit")
    return max(soft - RESERVED_FILES, 16)


def prepare(host: str, port: int, idle_timeout_s: float = IDLE_TIMEOUT_S,
            max_connections: int | None = None) -> Serving:
    """Everything that can refuse to serve, before any slow start-up work: the
    connections that fit the open-files limit, and the port, checked free and
    locked for this process. Port 0 becomes the free port the kernel chose, so
    the URL capmock prints is the real one."""
    fitted = fit_open_files(max_connections or MAX_CONNECTIONS,
                            explicit=max_connections is not None)
    bound = probe_bind(host, port)
    return Serving(host, bound, hold_lock(host, bound), idle_timeout_s, fitted)


def serve(target: str, serving: Serving, workers: int, threads: int, **options: Any) -> None:
    """Serve the WSGI app factory `target` ("module:function") on granian."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    timeout_ms = round(serving.idle_timeout_s * 1000)
    server = Granian(
        target, factory=True, interface=Interfaces.WSGI, http=HTTPModes.http1, websockets=False,
        address=serving.host, port=serving.port, workers=workers, blocking_threads=threads,
        backpressure=serving.max_connections,
        http1_settings=HTTP1Settings(header_read_timeout=timeout_ms),
        respawn_failed_workers=True, workers_kill_timeout=WORKER_KILL_TIMEOUT_S, **options,
    )
    try:
        server.serve()
    except RuntimeError as error:  # granian's bind, if a program took the port since prepare
        if f"(os error {errno.EADDRINUSE})" not in str(error):
            raise
        raise bind_error(serving.host, serving.port,
                         OSError(errno.EADDRINUSE, "in use")) from None


OPTIONS = [
    click.option("--idle-timeout", default=IDLE_TIMEOUT_S, show_default=True,
                 type=click.FloatRange(0.1, 86400), metavar="SECONDS",
                 help="Close a connection that has not sent a complete request head this "
                      "long after opening or after its last answer: idle keep-alive "
                      "connections and slow header senders alike."),
    click.option("--max-connections", type=click.IntRange(1, 1_000_000), metavar="N",
                 show_default=f"{MAX_CONNECTIONS}, fewer if the open-files limit is lower",
                 help="Open connections per worker, idle ones included; more wait in the "
                      "listen queue."),
]


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--idle-timeout and --max-connections, for every command that serves."""
    for option in reversed(OPTIONS):
        command = option(command)
    return command

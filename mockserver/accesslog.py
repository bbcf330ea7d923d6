"""The access log of `capmock serve`: one line per request, written by capmock.

    [2026-11-26 02:10:04 +0000] 127.0.0.1 "GET /v1.1/customer/get" mobile=1 200 0.412ms

granian can write this line itself, through Python's logging: a LogRecord, a
formatter, a handler lock and a flush for every request, ~50-60 us a line
measured, a quarter to a third of a replayed request's cost. This WSGI
middleware formats the same line with one f-string and hands it to the OS
with one write(2). One write per line keeps lines whole between the threads
of a worker and between workers that share the stdout pipe: a pipe write of
up to PIPE_BUF (4096) bytes is atomic, so a longer path or query is cut.

The time is the app's: from the call to the body (bodies are in memory), not
what granian would add for sending it. Control characters in the path (a
decoded %0A) are escaped, so a request cannot forge a log line. If stdout is
gone (a closed pipe), logging stops with one message on stderr; requests go on.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

FIELD_LIMIT = 1800  # path and query each: a whole line stays under PIPE_BUF


def shown(text: str) -> str:
    """A field as it may appear in one log line: printable, bounded."""
    if len(text) > FIELD_LIMIT:
        text = text[:FIELD_LIMIT] + "..."
    if text.isascii() and text.isprintable():
        return text
    # WSGI strings carry the request's bytes as latin-1; show them as UTF-8, escaped
    return ascii(text.encode("latin-1", "replace").decode("utf-8", "replace"))[1:-1]


class Clock:
    """The line's timestamp, formatted once per second."""

    def __init__(self) -> None:
        self.second, self.text = -1, ""

    def now(self) -> str:
        second = int(time.time())
        if second != self.second:
            self.second, self.text = second, time.strftime("%Y-%m-%d %H:%M:%S %z",
                                                           time.localtime(second))
        return self.text


class AccessLog:
    """WSGI middleware: the wrapped app's answers, one log line each on `fd`."""

    def __init__(self, app: WSGIApp, fd: int = 1) -> None:
        self.app, self.fd, self.clock = app, fd, Clock()
        self.broken = False

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: list[str] = []

        def recording(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            seen.append(status)
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording)
        if not self.broken:
            status = seen[-1].split(" ", 1)[0] if seen else "-"
            self.write(self.line(environ, status, time.perf_counter() - started))
        return body

    def line(self, environ: dict[str, Any], status: str, seconds: float) -> str:
        path = shown(environ.get("PATH_INFO", "") or "/")
        query = shown(environ.get("QUERY_STRING", ""))
        return (f'[{self.clock.now()}] {environ.get("REMOTE_ADDR", "-")} '
                f'"{environ["REQUEST_METHOD"]} {path}" {query} {status} '
                f"{seconds * 1000:.3f}ms\n")

    def write(self, line: str) -> None:
        data = line.encode("ascii", "backslashreplace")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError as error:
            self.broken = True
            print(f"capmock: access log stopped: {error}", file=sys.stderr)

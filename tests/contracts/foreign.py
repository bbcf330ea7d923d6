"""A server nobody here wrote, as far as the suite can tell: a raw-socket HTTP
server that answers most requests with the capmock mock's own answer and
misbehaves on the paths it is told to, in ways no WSGI app can (a reset
connection, a stall, a body shorter than its Content-Length).

    with foreign({"/v1.1/customer/search": "reset"}) as base_url: ...

Behaviours (`ANSWERS`): a bare JSON string, an HTML page, an empty body, a
truncated body, bytes that are not UTF-8, a reset connection, a stall (no
answer for 30 s; the server lets go at shutdown). Every loop is bounded: a
connection is served once and closed, and the server stops with the test.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.test import Client

from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app

STALL_S = 30.0
Raw = tuple[int, str, bytes]  # status, content type, body


def head(status: int, content_type: str, length: int, request_id: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}",
             f"Content-Length: {length}", f"X-Cap-Requestid: {request_id}",
             "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def json_string(_raw: Raw) -> Raw:
    return 200, "application/json; charset=utf-8", b'"{\\"response\\": {}}"'


def html(_raw: Raw) -> Raw:
    return 200, "text/html; charset=utf-8", b"<html><body><h1>It works!</h1></body></html>"


def empty(raw: Raw) -> Raw:
    return raw[0], raw[1], b""


def not_utf8(raw: Raw) -> Raw:
    return raw[0], raw[1], raw[2][:40] + b"\xff\xfe\xc3(" + raw[2][40:]


BODIES: dict[str, Callable[[Raw], Raw]] = {
    "json-string": json_string, "html": html, "empty": empty, "not-utf8": not_utf8}
ANSWERS = (*BODIES, "truncated", "reset", "stall")


class Handler(socketserver.BaseRequestHandler):
    server: ForeignServer

    def handle(self) -> None:
        request = self.read_request()
        if request is None:
            return
        method, target, headers, body = request
        path = target.split("?", 1)[0]
        behaviour = self.server.behaviours.get(path)
        if behaviour == "reset":
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if behaviour == "stall":
            self.server.stopping.wait(STALL_S)
            return
        raw = self.server.answer(method, target, headers, body)
        number = self.server.next_id()
        if behaviour in BODIES:
            raw = BODIES[behaviour](raw)
        status, content_type, data = raw
        length = len(data)
        if behaviour == "truncated":
            data = data[: len(data) // 2]
        self.request.sendall(head(status, content_type, length, f"foreign-{number}") + data)

    def read_request(self) -> tuple[str, str, dict[str, str], bytes] | None:
        self.request.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return None
            data += chunk
        header_block, _, body = data.partition(b"\r\n\r\n")
        lines = header_block.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0") or 0)
        while len(body) < length:
            chunk = self.request.recv(65536)
            if not chunk:
                break
            body += chunk
        return method, target, headers, body


class ForeignServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviours: dict[str, str], app: Any) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviours = behaviours
        self.client = Client(app)
        self.stopping = threading.Event()
        self.counter = 0
        self.lock = threading.Lock()

    def next_id(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Raw:
        path, _, query = target.partition("?")
        kept = {k: v for k, v in headers.items() if k in ("accept", "content-type", "prefer")}
        with self.lock:  # werkzeug's test client is not shared across threads
            response = self.client.open(path, method=method, query_string=query, data=body,
                                        headers=kept)
        return response.status_code, response.headers.get("Content-Type", ""), response.get_data()


@contextmanager
def foreign(behaviours: dict[str, str], app: Any = None) -> Iterator[str]:
    """Serve the foreign server on a free loopback port; yield its base URL."""
    server = ForeignServer(behaviours, app or create_app(Settings()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(10)

"""capmock's access log: one whole, printable line per request, on any answer."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from capmock.mockserver.accesslog import FIELD_LIMIT, AccessLog
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app

GET = "/v1.1/customer/get?mobile=19889999999"
LINE = re.compile(r'^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] (\S+) "(\S+) (\S+)" (\S*) '
                  r"(\d{3}|-) (\d+\.\d{3})ms$")


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(Settings())


class Pipe:
    """An OS pipe for the log; each end closed once, so no reused fd is closed."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.open = {self.read_fd, self.write_fd}

    def close(self, fd: int) -> None:
        if fd in self.open:
            self.open.discard(fd)
            os.close(fd)

    def lines(self) -> list[str]:
        """Everything written, once the writing end is closed."""
        self.close(self.write_fd)
        chunks = []
        while chunk := os.read(self.read_fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode("ascii").splitlines()


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    opened = Pipe()
    yield opened
    for fd in list(opened.open):
        opened.close(fd)


def logged(app: Flask, write_fd: int) -> Flask:
    """The app with an AccessLog on write_fd, as `capmock serve` wraps it."""
    logged_app = Flask(__name__)
    logged_app.wsgi_app = AccessLog(app.wsgi_app, fd=write_fd)  # type: ignore[method-assign]
    return logged_app


def test_one_line_per_request_with_status(app: Flask, pipe: Pipe) -> None:
    client = logged(app, pipe.write_fd).test_client()
    assert client.get(GET).status_code == 200
    assert client.get("/v1.1/customer/nope").status_code == 404
    assert client.post("/v1.1/customer/get").status_code == 405
    lines = pipe.lines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m[2], m[3], m[4], m[5]) for m in parsed] == [
        ("GET", "/v1.1/customer/get", "mobile=19889999999", "200"),
        ("GET", "/v1.1/customer/nope", "", "404"),
        ("POST", "/v1.1/customer/get", "", "405")]


def test_serve_settings_turn_it_on(capfd: pytest.CaptureFixture[str]) -> None:
    create_app(Settings(access_log=True)).test_client().get(GET)
    assert re.search(r'"GET /v1.1/customer/get" mobile=19889999999 200 ', capfd.readouterr().out)
    create_app(Settings()).test_client().get(GET)
    assert "/v1.1/customer/get" not in capfd.readouterr().out


def test_a_decoded_newline_cannot_forge_a_line(app: Flask, pipe: Pipe) -> None:
    client = logged(app, pipe.write_fd).test_client()
    client.get("/v1.1/customer/get%0A[2026-01-01 00:00:00 +0000] 10.0.0.1 \"GET /fake\"")
    client.get("/v1.1/customer/%C3%A9t%C3%A9")
    lines = pipe.lines()
    assert len(lines) == 2
    assert "customer/get\\n[2026" in lines[0]
    assert "customer/\\xe9t\\xe9" in lines[1]  # UTF-8 path, shown escaped


def test_a_long_target_is_cut_so_a_line_stays_one_pipe_write(app: Flask,
                                                            pipe: Pipe) -> None:
    client = logged(app, pipe.write_fd).test_client()
    path, query = "/v1.1/customer/" + "a" * 5000, "q=" + "b" * 5000
    client.get(f"{path}?{query}")
    (line,) = pipe.lines()
    assert len(line) < 4096  # PIPE_BUF: atomic between workers sharing stdout
    assert f'"GET {path[:FIELD_LIMIT]}..." {query[:FIELD_LIMIT]}... 404 ' in line


def test_lines_stay_whole_between_threads(app: Flask, pipe: Pipe) -> None:
    wrapped = logged(app, pipe.write_fd)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(pipe.lines()))

    def burst() -> None:
        client = wrapped.test_client()
        for _ in range(100):
            client.get(GET)

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reader.start()
    reader.join()
    assert len(lines) == 400 and all(LINE.match(line) for line in lines)


def test_a_closed_stdout_stops_the_log_not_the_answers(
        app: Flask, pipe: Pipe, capsys: pytest.CaptureFixture[str]) -> None:
    pipe.close(pipe.read_fd)  # the reader went away: writes fail with EPIPE
    wrapped = logged(app, pipe.write_fd)
    client = wrapped.test_client()
    assert client.get(GET).status_code == 200
    assert client.get(GET).status_code == 200
    assert wrapped.wsgi_app.broken  # type: ignore[attr-defined]
    assert capsys.readouterr().err.count("access log stopped") == 1

"""Injected faults over a real socket against `capmock serve` (granian):
Prefer: fault= and __fault=, --fault-rate with a seed, never on the admin
endpoints, recorded in the journal, and quiet in the server's log."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree
from servedmock import http as get
from servedmock import served

from capmock.mockserver import faults

pytestmark = pytest.mark.slow
GET = "/v1.1/customer/get?mobile=19889999999"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("faults") / "serve.log"
    with served(log=log) as base:
        yield base, log


def connect(base: str) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def exchange(base: str, path: str, headers: dict[str, str] | None = None
             ) -> tuple[http.client.HTTPResponse | None, bytes, Exception | None]:
    """(the response if its head arrived, the body bytes read, the error if the read failed)."""
    conn = connect(base)
    try:
        conn.request("GET", path, headers=headers or {})
        try:
            response = conn.getresponse()
        except http.client.RemoteDisconnected as error:
            return None, b"", error
        try:
            return response, response.read(), None
        except http.client.IncompleteRead as error:
            return response, error.partial, error
    finally:
        conn.close()


def documented(base: str, fmt: str = "json") -> bytes:
    status, body = get(f"{base}{GET}&format={fmt}")
    assert status == 200
    return body


def test_the_faults_are_data() -> None:
    assert faults.kinds() == ("reset", "empty", "truncated", "slow", "garbage")
    assert all(entry["description"] for entry in faults.data()["faults"].values())


def test_reset_closes_the_connection_without_a_body(mock: tuple[str, Path]) -> None:
    base, _log = mock
    for _ in range(5):  # granian sometimes writes the head first: either way, no body
        _response, body, error = exchange(base, GET, {"Prefer": "fault=reset"})
        assert body == b""
        assert isinstance(error, http.client.RemoteDisconnected | http.client.IncompleteRead)


def test_empty_is_a_head_and_zero_bytes(mock: tuple[str, Path]) -> None:
    base, _log = mock
    response, body, error = exchange(base, GET + "&__fault=empty")
    assert error is None and response is not None
    assert response.status == 200 and body == b""
    assert response.getheader("Content-Length") == "0"
    assert response.getheader("Content-Type", "").startswith("application/json")
    assert response.getheader("X-Cap-Requestid")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_truncated_promises_the_whole_body_and_sends_half(mock: tuple[str, Path],
                                                          fmt: str) -> None:
    base, _log = mock
    whole = documented(base, fmt)
    response, body, error = exchange(base, f"{GET}&format={fmt}", {"Prefer": "fault=truncated"})
    assert isinstance(error, http.client.IncompleteRead)
    assert response is not None and response.getheader("Content-Length") == str(len(whole))
    assert body == whole[: len(whole) // 2]


def test_slow_trickles_the_whole_body(mock: tuple[str, Path]) -> None:
    base, _log = mock
    whole = documented(base)
    shape = faults.data()["slow"]
    conn = connect(base)
    started = time.monotonic()
    conn.request("GET", GET, headers={"Prefer": "fault=slow"})
    response = conn.getresponse()
    pieces = []
    while chunk := response.read1(65_536):
        pieces.append((time.monotonic() - started, chunk))
    conn.close()
    assert b"".join(c for _t, c in pieces) == whole
    assert len(pieces) >= shape["pieces"] // 2  # arrived in pieces, not at once
    took = pieces[-1][0] - pieces[0][0]
    assert (shape["pieces"] - 1) * shape["interval_ms"] / 1000 * 0.8 <= took < 10


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_garbage_is_neither_format(mock: tuple[str, Path], fmt: str) -> None:
    base, _log = mock
    whole = documented(base, fmt)
    response, body, error = exchange(base, f"{GET}&format={fmt}&__fault=garbage")
    assert error is None and response is not None and response.status == 200
    assert response.getheader("Content-Type", "").startswith(f"application/{fmt}")
    assert len(body) == len(whole) and body != whole
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(body)


def test_an_unknown_fault_is_a_400_in_the_envelope(mock: tuple[str, Path]) -> None:
    base, _log = mock
    status, body = get(base + GET + "&__fault=explode")
    assert status == 400
    message = json.loads(body)["response"]["status"]["message"]
    assert "explode" in message and "reset, empty, truncated, slow, garbage" in message


def test_faults_never_touch_the_admin_endpoints(mock: tuple[str, Path]) -> None:
    base, _log = mock
    for path in ("/__capmock/health?__fault=reset", "/__capmock/journal/count?",
                 "/__capmock/nothing-here?__fault=reset"):
        response, body, error = exchange(base, path, {"Prefer": "fault=reset"})
        assert error is None and response is not None, path
        assert response.status in (200, 404) and body, path


def test_the_journal_records_the_fault_and_the_log_stays_quiet(mock: tuple[str, Path]) -> None:
    base, log = mock
    get(base + "/__capmock/journal", method="DELETE")
    exchange(base, GET, {"Prefer": "fault=reset"})
    exchange(base, GET + "&__fault=truncated")
    status, body = get(base + "/__capmock/journal/find?fault=reset&fault=truncated")
    found = json.loads(body)
    assert status == 200 and found["count"] == 2
    assert [e["fault"] for e in found["entries"]] == ["reset", "truncated"]
    assert "fault reset (Prefer: fault)" in found["entries"][0]["reason"]
    assert "fault truncated (__fault)" in found["entries"][1]["reason"]
    text = log.read_text("utf-8", "replace")
    assert "Traceback" not in text and "Injected" not in text, text[-2000:]


def empties(base: str, count: int) -> list[bool]:
    """Which of `count` requests were answered with the empty fault."""
    return [exchange(base, GET)[1] == b"" for _ in range(count)]


def test_fault_rate_is_a_share_and_the_seed_repeats_it(tmp_path: Path) -> None:
    args = ("--fault-rate", "0.5", "--fault-seed", "7", "--fault-kinds", "empty")
    with served(*args, log=tmp_path / "a.log") as base:
        first = empties(base, 40)
        _status, body = get(base + "/__capmock/journal/count?fault=empty")
        assert json.loads(body)["count"] == sum(first)
    with served(*args, log=tmp_path / "b.log") as base:
        again = empties(base, 40)
    assert first == again
    assert 8 <= sum(first) <= 32  # about half of 40
    with served("--fault-rate", "0.5", "--fault-seed", "8", "--fault-kinds", "empty",
                log=tmp_path / "c.log") as base:
        assert empties(base, 40) != first


def test_bad_fault_options_are_one_line_errors(tmp_path: Path) -> None:
    import subprocess

    from servedmock import CAPMOCK

    for args, says in ((["--fault-rate", "2"], "--fault-rate"),
                       (["--fault-kinds", "reset,boom"], "unknown fault boom")):
        result = subprocess.run([CAPMOCK, "serve", "--port", "0", *args], capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 2 and says in result.stderr
        assert "Traceback" not in result.stderr

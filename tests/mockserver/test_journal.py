"""The request journal (mockserver/journal.py): credentials redacted, bodies
cut with a marker, a budget of entries and bytes in each worker and in the
shared file, and the number dropped reported."""

from __future__ import annotations

import gc
import json
import sqlite3
import time
import tracemalloc
from typing import Any

import pytest
from flask.testing import FlaskClient

from capmock.mockserver.auth import expected_header
from capmock.mockserver.http import MockRequest, MockResponse
from capmock.mockserver.journal import Budget, MemoryJournal, Raw, as_entry, keep
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app

GET = "/v1.1/customer/get?mobile=19889999999"
ADD = "/v1.1/customer/add?format=json"
TILL1 = expected_header("till1:123")
SECRETS = {"Authorization": TILL1, "X-Cap-Api-Oauth-Token": "oauth-secret-1",
           "X-Api-Key": "key-secret-2", "Proxy-Authorization": "Basic cHJveHk6c2VjcmV0",
           "X-Session-Id": "session-secret-3"}


def client(**settings: Any) -> FlaskClient:
    return create_app(Settings(**settings)).test_client()


def journal(c: FlaskClient) -> dict[str, Any]:
    answer = c.get("/__capmock/journal", headers={"Authorization": TILL1})
    assert answer.status_code == 200
    return answer.get_json()


def add_body(size: int, n: int = 0) -> bytes:
    """A customer/add body of about `size` bytes."""
    head = b'{"root":{"customer":[{"mobile":"9198450%05d","firstname":"' % n
    tail = b'"}]}}'
    return head + b"A" * max(size - len(head) - len(tail), 0) + tail


def wait_for(c: FlaskClient, count: int) -> dict[str, Any]:
    """The shared journal (SQLite) once it holds `count` entries, or as it is after 5 s."""
    deadline = time.monotonic() + 5
    while True:
        data = journal(c)
        if len(data["entries"]) >= count or time.monotonic() > deadline:
            return data
        time.sleep(0.02)


# --- redaction --------------------------------------------------------------------------

def test_credentials_are_redacted_in_the_journal() -> None:
    c = client(auth="till1:123")
    assert c.get(GET, headers={**SECRETS, "X-Trace": "kept-as-sent"}).status_code == 200
    entry = journal(c)["entries"][-1]
    headers = entry["headers"]
    assert headers["authorization"] == "Basic [redacted]"
    for name in ("x-cap-api-oauth-token", "x-api-key", "x-session-id"):
        assert headers[name] == "[redacted]", name
    assert headers["proxy-authorization"] == "Basic [redacted]"
    assert headers["x-trace"] == "kept-as-sent"
    text = json.dumps(entry)
    for secret in (*SECRETS.values(), TILL1.split()[1]):
        assert secret.split()[-1] not in text


def test_cookies_are_redacted() -> None:
    raw = Raw("id", 0.0, MockRequest("GET", "/x", headers={
        "cookie": "session=abc123", "accept": "application/json"}),
        MockResponse(200, b"", "application/json"), 0.001)
    headers = as_entry(keep(raw, 4096))["headers"]
    assert headers == {"cookie": "[redacted]", "accept": "application/json"}


def test_the_shared_journal_file_holds_no_credentials(tmp_path) -> None:
    path = tmp_path / "journal.sqlite"
    c = client(journal_path=str(path), auth="till1:123")
    c.get(GET, headers=SECRETS)
    assert len(wait_for(c, 1)["entries"]) == 1
    with sqlite3.connect(path) as db:
        stored = " ".join(row[0] for row in db.execute("SELECT entry FROM journal"))
    assert "[redacted]" in stored
    for secret in SECRETS.values():
        assert secret.split()[-1] not in stored


# --- bodies -----------------------------------------------------------------------------

def test_a_long_body_is_cut_with_a_marker() -> None:
    c = client(journal_body_bytes=100)
    body = add_body(5000)
    c.post(ADD, data=body, content_type="application/json")
    c.post(ADD, data=b'{"root":{}}', content_type="application/json")
    long, short = journal(c)["entries"]
    assert long["body"] == body[:100].decode()
    assert (long["body_length"], long["body_truncated"]) == (5000, True)
    assert (short["body"], short["body_length"], short["body_truncated"]) == \
        ('{"root":{}}', 11, False)
    assert journal(c)["limits"] == {"entries": 1000, "bytes": Settings().journal_bytes,
                                    "body_bytes": 100}


@pytest.mark.parametrize("query", ["&format=json", "&format=xml"])
def test_an_answer_too_long_to_keep_still_names_its_item_codes(query: str) -> None:
    """The replay cache works the item codes out once per cached answer; the
    journal keeps them when it drops the body, and finds by them."""
    c = client(journal_body_bytes=100)
    for _ in range(2):  # the second answer is the cached one
        assert len(c.get(GET + query).data) > 100
    entries = journal(c)["entries"]
    assert [e["item_codes"] for e in entries] == [[1000], [1000]]
    found = c.get("/__capmock/journal/count?item_code=1000", headers={"Authorization": TILL1})
    assert found.get_json()["count"] == 2


def test_the_journal_does_not_hold_large_bodies() -> None:
    """64 distinct ~1 MiB request bodies and answers: the journal keeps
    a few KiB of each (it held the whole of both: ~128 MiB)."""
    mib = 1 << 20
    memory = MemoryJournal(Budget(1000, 1 << 30, 4096))
    gc.collect()
    tracemalloc.start()
    try:
        for n in range(64):
            request = MockRequest("POST", "/v1.1/customer/add", headers={"accept": "*/*"},
                                  body=bytes([n % 256]) * mib)
            answer = MockResponse(200, bytes([n % 256]) * mib, "application/json",
                                  "customer_add", 200)
            memory.record(Raw(f"id{n}", time.time(), request, answer, 0.01))
            del request, answer
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held < 2 * mib, held
    assert len(memory.read().entries) == 64


# --- the budget -------------------------------------------------------------------------

def test_the_count_budget_drops_the_oldest_and_says_how_many() -> None:
    c = client(journal_size=3)
    for n in range(5):
        c.get(f"{GET}&n={n}")
    data = journal(c)
    assert [e["query"][-3:] for e in data["entries"]] == ["n=2", "n=3", "n=4"]
    assert data["dropped"] == 2
    assert c.delete("/__capmock/journal").get_json() == {"cleared": 3}
    assert journal(c)["dropped"] == 0


def test_the_byte_budget_drops_the_oldest_and_says_how_many() -> None:
    budget = 80_000
    c = client(journal_bytes=budget, journal_body_bytes=4096)
    for n in range(100):
        c.post(ADD, data=add_body(20_000, n), content_type="application/json")
    data = journal(c)
    kept = len(data["entries"])
    assert 5 <= kept < 20  # each entry counts its 4 KiB body and some overhead
    assert data["dropped"] == 100 - kept
    assert data["entries"][-1]["body"].startswith('{"root":{"customer":[{"mobile":"919845000099"')


def test_the_newest_entry_is_kept_even_alone_over_the_byte_budget() -> None:
    memory = MemoryJournal(Budget(10, 100, 4096))
    request = MockRequest("GET", "/x", headers={"x-big": "b" * 1000})
    for n in range(3):
        memory.record(Raw(f"id{n}", 0.0, request, MockResponse(200, b"", "text/plain"), 0.0))
    report = memory.read()
    assert [e["id"] for e in report.entries] == ["id2"] and report.dropped == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_the_shared_journal_keeps_the_budget_and_adds_up_the_drops(tmp_path,
                                                                   workers: int) -> None:
    """Several workers (apps on one file): each keeps the budget while nobody
    reads, and the file is trimmed to it; the drops of all are counted."""
    path = str(tmp_path / "journal.sqlite")
    apps = [client(journal_path=path, journal_size=4) for _ in range(workers)]
    for n in range(10):
        for c in apps:
            c.get(f"{GET}&n={n}")
    data = wait_for(apps[0], 4)
    assert len(data["entries"]) == 4
    assert data["dropped"] == 10 * workers - 4
    apps[-1].get(f"{GET}&n=last")
    data = wait_for(apps[0], 4)
    assert data["entries"][-1]["query"].endswith("n=last") and len(data["entries"]) == 4
    assert data["dropped"] == 10 * workers - 3
    assert apps[0].delete("/__capmock/journal").get_json() == {"cleared": 4}
    assert journal(apps[0])["dropped"] == 0


def test_the_shared_journal_file_keeps_the_byte_budget(tmp_path) -> None:
    path = str(tmp_path / "journal.sqlite")
    first, second = (client(journal_path=path, journal_bytes=65_536) for _ in range(2))
    for n in range(40):
        (first if n % 2 else second).post(ADD, data=add_body(10_000, n),
                                          content_type="application/json")
    data = wait_for(first, 40)
    assert 5 <= len(data["entries"]) < 20
    assert data["dropped"] == 40 - len(data["entries"])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT sum(size) FROM journal").fetchone()[0] <= 65_536

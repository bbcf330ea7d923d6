"""The request journal: what the mock received and answered, newest last.

One worker keeps it in memory; several workers (separate processes) share a
SQLite file so that any worker's admin endpoint sees every request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from capmock.mockserver.access import text
from capmock.mockserver.http import MockRequest, MockResponse
from capmock.mockserver.negotiation import MEDIA
from capmock.mockserver.replay import prefer_pairs
from capmock.mockserver.settings import Settings
from capmock.openapi import routing
from capmock.openapi.contract import operations

logger = logging.getLogger("capmock")
# What an entry costs beyond the bytes of its bodies, path, query and headers
# (the tuples, the headers dict, one str object per header): measured with
# tracemalloc, an entry of a request with 8 headers holds ~290 bytes of tuples
# and ~800 of headers dict and strings, plus its body; these constants count
# ~1,850 for it (with a 50-byte body), so the budget errs on the safe side.
ENTRY_BYTES = 640
HEADER_BYTES = 100
REDACTED = "[redacted]"


class Raw(NamedTuple):
    """What a request leaves behind (wsgi.mock_view)."""

    request_id: str
    time: float
    request: MockRequest
    answer: MockResponse
    seconds: float
    forced: str | None = None  # what POST /__capmock/force added (forcing.py)
    fault: str | None = None  # the fault injected, "kind (how it was asked)" (faults.py)
    item_codes: tuple[int, ...] | None = None  # kept when the answer's body is dropped


class Budget(NamedTuple):
    """How much the journal keeps: entries, bytes (per worker, and in the
    shared file) and bytes of each body (--journal-size, --journal-bytes,
    --journal-body-bytes)."""

    entries: int
    bytes: int
    body_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Budget:
        return cls(settings.journal_size, settings.journal_bytes, settings.journal_body_bytes)

    def limits(self) -> dict[str, int]:
        return {"entries": self.entries, "bytes": self.bytes, "body_bytes": self.body_bytes}


# What the journal keeps of a request: (raw, the body's real length, the
# entry's size in the budget). A plain tuple: this is the hot path, and a
# NamedTuple costs ~1 us more to make.
# Read by unpacking (raw, length, size = entry), which the type checker follows.
Entry = tuple[Raw, int, int]


def keep(raw: Raw, body_bytes: int) -> Entry:
    """The Entry of a request, ~1-2 us: the body cut to the budget's body_bytes
    (no copy when it is shorter), the answer's body dropped when it is as long
    (a sandbox answer can be as large as the request; a replayed one is
    shared with the response cache). Headers are kept as sent, redacted when
    read."""
    request, answer = raw.request, raw.answer
    length = len(request.body)
    if length > body_bytes or len(answer.body) > body_bytes:
        raw = slim(raw, body_bytes)
        request = raw.request
    headers = request.headers
    size = (ENTRY_BYTES + len(request.body) + len(raw.answer.body) + len(request.path)
            + len(request.query_string) + HEADER_BYTES * len(headers)
            + sum(map(len, headers)) + sum(map(len, headers.values())))
    return (raw, length, size)


def slim(raw: Raw, body_bytes: int) -> Raw:
    request, answer = raw.request, raw.answer
    if len(request.body) > body_bytes:
        request = replace(request, body=request.body[:body_bytes])
    if len(answer.body) > body_bytes:
        codes = answer.item_codes if answer.item_codes is not None else item_codes(answer.body)
        return raw._replace(request=request, answer=replace(answer, body=b""), item_codes=codes)
    return raw._replace(request=request)


JSON_ITEM_CODE = re.compile(rb'"item_status"\s*:\s*\{[^{}]*?"code"\s*:\s*"?(\d+)')
XML_ITEM_CODE = re.compile(rb"<item_status>(?:(?!</item_status>).)*?<code>(\d+)</code>", re.S)


def item_codes(body: bytes) -> tuple[int, ...]:
    """The item codes of an answer's body, in order (JSON or XML)."""
    pattern = XML_ITEM_CODE if body[:1] == b"<" else JSON_ITEM_CODE
    return tuple(int(code) for code in pattern.findall(body))


@lru_cache(maxsize=256)  # bounded: header names are the client's to choose
def is_secret(name: str) -> bool:
    """Whether a header carries a credential (access.yaml, journal)."""
    listed = text()["journal"]
    return name in listed["secret_headers"] or any(
        fragment in name for fragment in listed["secret_fragments"])


def redacted(name: str, value: str) -> str:
    """The value the journal shows: secrets replaced, an Authorization's scheme kept."""
    if not is_secret(name):
        return value
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {REDACTED}" if sep and "authorization" in name else REDACTED


def outcome(raw: Raw, mode: str) -> tuple[str | None, str, str]:
    """(the operation, the outcome, the reason) of an entry: unmatched (no
    operation at that method and path), refused (a Rejection: validation,
    credentials, format, a bad control), forced (a code asked for) or answered."""
    request, answer = raw.request, raw.answer
    operation = answer.operation
    if operation is None:
        found = routing.route(request.method, request.path)
        if isinstance(found, routing.Refusal):
            return None, "unmatched", answer.reason or found.message
        operation = found.id
    if answer.reason is not None:
        return operation, "refused", answer.reason
    if raw.forced:
        return operation, "forced", f"{raw.forced} (POST /__capmock/force)"
    pairs = prefer_pairs(request)
    if "code" in pairs:
        return operation, "forced", ", ".join(f"{k}={v}" for k, v in pairs.items())
    if mode == "sandbox":
        return operation, "answered", "the sandbox's answer"
    return operation, "answered", f"documented example {pairs.get('example', 'default')!r}"


def as_entry(entry: Entry, mode: str = "replay") -> dict[str, Any]:
    """The journal entry a client reads at /__capmock/journal."""
    raw, length, _size = entry
    request, answer = raw.request, raw.answer
    operation, result, reason = outcome(raw, mode)
    fault = raw.fault.split(" ", 1)[0] if raw.fault else None
    return {
        "id": raw.request_id,
        "time": datetime.fromtimestamp(raw.time, UTC).isoformat(timespec="milliseconds"),
        "method": request.method,
        "path": request.path,
        "query": request.query_string,
        "headers": {name: redacted(name, value) for name, value in request.headers.items()},
        "body": request.body.decode("utf-8", "replace"),
        "body_length": length,
        "body_truncated": len(request.body) < length,
        "operation": operation,
        "status": answer.status,
        "code": answer.request_code,
        "item_codes": list(raw.item_codes if raw.item_codes is not None
                           else item_codes(answer.body)),
        "format": FORMAT_OF.get(answer.content_type),
        "outcome": result,
        "reason": f"{reason}; fault {raw.fault}" if raw.fault else reason,
        "forced": raw.forced,
        "fault": fault,
        "ms": round(raw.seconds * 1000, 3),
    }


FORMAT_OF = {media: fmt for fmt, media in MEDIA.items()}


class Report(NamedTuple):
    """What GET /__capmock/journal answers: the entries, oldest first, and how
    many were dropped to stay within the budget since the journal was cleared."""

    entries: list[dict[str, Any]]
    dropped: int


class Buffer:
    """The newest entries within a budget of entries and bytes; older ones
    are dropped, and counted. The newest entry is always kept, even alone
    over the byte budget (it is bounded by the body cap and the server's
    header limits)."""

    def __init__(self, budget: Budget) -> None:
        self._budget = budget
        self._entries: deque[Entry] = deque()
        self._bytes = 0
        self.dropped = 0
        self._lock = threading.Lock()  # the counts are read-modify-write

    def add(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)
            self._bytes += entry[2]
            while len(self._entries) > 1 and (len(self._entries) > self._budget.entries
                                              or self._bytes > self._budget.bytes):
                *_, size = self._entries.popleft()
                self._bytes -= size
                self.dropped += 1

    def snapshot(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def drain(self) -> tuple[list[Entry], int]:
        """Everything held and the count dropped, both reset."""
        with self._lock:
            held, dropped = list(self._entries), self.dropped
            self._entries.clear()
            self._bytes = self.dropped = 0
            return held, dropped

    def clear(self) -> int:
        return len(self.drain()[0])


class MemoryJournal:
    """One worker's journal."""

    def __init__(self, budget: Budget, mode: str = "replay") -> None:
        self._buffer = Buffer(budget)
        self._body_bytes = budget.body_bytes
        self._mode = mode

    def record(self, raw: Raw) -> None:
        self._buffer.add(keep(raw, self._body_bytes))

    def read(self) -> Report:
        return Report([as_entry(e, self._mode) for e in self._buffer.snapshot()],
                      self._buffer.dropped)

    def clear(self) -> int:
        return self._buffer.clear()


def prepare(path: str) -> None:
    """Create the journal file in WAL mode once, before worker processes start:
    workers racing to switch the mode would fail with "database is locked"."""
    with closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY "
                   "AUTOINCREMENT, t REAL NOT NULL, entry TEXT NOT NULL, size INTEGER NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS readers (id INTEGER PRIMARY KEY CHECK (id = 1), "
                   "generation INTEGER NOT NULL, dropped INTEGER NOT NULL)")
        db.execute("INSERT OR IGNORE INTO readers (id, generation, dropped) VALUES (1, 0, 0)")
        db.execute("CREATE TABLE IF NOT EXISTS workers (worker TEXT PRIMARY KEY, "
                   "pid INTEGER NOT NULL, acked INTEGER NOT NULL)")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit connection (isolation_level=None,
    where `with db:` would commit each statement alone)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SqliteJournal:
    """The journal of several workers (separate processes), shared through a
    SQLite file, at almost no cost per request.

    A request only appends to this worker's memory (~1-2 us of CPU; encoding
    and inserting each entry as it came cost ~20 us), within the budget: a
    worker nobody reads keeps at most the budget's entries and bytes, and
    counts what it drops. Entries reach the file
    when someone reads the journal: the reader raises a generation number in
    the file, every worker's poller thread (one small SELECT every 50 ms) sees
    it and writes out what it holds, and the reader waits for every live
    worker's acknowledgement (at most a second, so a hung worker cannot hang
    the admin endpoint). The file is trimmed to the same budget, oldest
    first, and the drops of every worker add up in readers.dropped.
    """

    POLL_SECONDS = 0.05
    WAIT_SECONDS = 1.0

    def __init__(self, path: str, budget: Budget, mode: str = "replay") -> None:
        self._path, self._budget, self._mode = path, budget, mode
        self._pending = Buffer(budget)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._worker = secrets.token_hex(8)
        prepare(path)
        with self._db() as db:
            db.execute("INSERT INTO workers (worker, pid, acked) VALUES "
                       "(?, ?, (SELECT generation FROM readers))", (self._worker, os.getpid()))
        threading.Thread(target=self._poller, name="capmock-journal", daemon=True).start()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            db.execute("PRAGMA synchronous=OFF")  # a debugging aid, not data to keep
            self._local.db = db
        return db

    def record(self, raw: Raw) -> None:
        self._pending.add(keep(raw, self._budget.body_bytes))

    def _poller(self) -> None:
        while True:
            time.sleep(self.POLL_SECONDS)
            try:
                self._answer_readers()
            except sqlite3.Error:
                logger.exception("journal: cannot reach %s", self._path)

    def _answer_readers(self) -> None:
        db = self._db()
        wanted = db.execute("SELECT generation FROM readers").fetchone()[0]
        acked = db.execute("SELECT acked FROM workers WHERE worker = ?",
                           (self._worker,)).fetchone()
        if acked is not None and acked[0] < wanted:
            self._write_out(wanted)

    def _write_out(self, generation: int) -> None:
        """Write what this worker holds, trim the file to the budget, add up
        the drops, then acknowledge `generation` (one transaction)."""
        with self._write_lock:
            batch, dropped = self._pending.drain()
            # ASCII: len() counts bytes
            texts = [json.dumps(as_entry(e, self._mode)) for e in batch]
            with transaction(self._db()) as db:
                db.executemany("INSERT INTO journal (t, entry, size) VALUES (?, ?, ?)",
                               [(e[0].time, t, len(t))
                                for e, t in zip(batch, texts, strict=True)])
                dropped += self._trim(db)
                db.execute("UPDATE readers SET dropped = dropped + ?", (dropped,))
                db.execute("UPDATE workers SET acked = max(acked, ?) WHERE worker = ?",
                           (generation, self._worker))

    def _trim(self, db: sqlite3.Connection) -> int:
        """Drop the oldest rows beyond the budget's entries or bytes (the newest
        always stays); the number dropped."""
        last = db.execute("SELECT max(seq) FROM journal").fetchone()[0] or 0
        dropped = db.execute("DELETE FROM journal WHERE seq <= ?",
                             (last - self._budget.entries,)).rowcount
        return dropped + db.execute(
            "DELETE FROM journal WHERE seq < ? AND seq <= (SELECT seq FROM (SELECT seq, "
            "sum(size) OVER (ORDER BY seq DESC) AS newer FROM journal) WHERE newer > ? "
            "ORDER BY seq DESC LIMIT 1)", (last, self._budget.bytes)).rowcount

    def _gather(self) -> None:
        """Have every live worker write out its entries (the reader's side)."""
        db = self._db()
        with db:
            db.execute("UPDATE readers SET generation = generation + 1")
            generation = db.execute("SELECT generation FROM readers").fetchone()[0]
        self._write_out(generation)
        deadline = time.monotonic() + self.WAIT_SECONDS
        while time.monotonic() < deadline:
            late = db.execute("SELECT worker, pid FROM workers WHERE acked < ?",
                              (generation,)).fetchall()
            gone = [worker for worker, pid in late if not alive(pid)]
            if gone:
                db.executemany("DELETE FROM workers WHERE worker = ?", [(w,) for w in gone])
            if len(late) == len(gone):
                return
            time.sleep(0.01)

    def read(self) -> Report:
        self._gather()
        db = self._db()
        rows = db.execute(
            "SELECT entry FROM (SELECT t, seq, entry FROM journal ORDER BY t DESC, seq DESC "
            "LIMIT ?) ORDER BY t, seq", (self._budget.entries,))
        entries = [json.loads(r[0]) for r in rows]
        return Report(entries, db.execute("SELECT dropped FROM readers").fetchone()[0])

    def clear(self) -> int:
        self._gather()
        with transaction(self._db()) as db:
            db.execute("UPDATE readers SET dropped = 0")
            return db.execute("DELETE FROM journal").rowcount


class NoJournal:
    """`--no-journal`: nothing recorded (load tests that need every microsecond)."""

    def record(self, raw: Raw) -> None:
        return None

    def read(self) -> Report:
        return Report([], 0)

    def clear(self) -> int:
        return 0


def open_journal(settings: Settings) -> MemoryJournal | SqliteJournal | NoJournal:
    """In memory for one worker, a shared SQLite file for several; size 0: none."""
    budget = Budget.of(settings)
    if budget.entries == 0:
        return NoJournal()
    path = settings.journal_path
    mode = settings.mode
    return SqliteJournal(path, budget, mode) if path else MemoryJournal(budget, mode)


# --- finding and counting (GET /__capmock/journal/find, /count, /unmatched) ----------

OUTCOMES = ("answered", "forced", "refused", "unmatched")
FIELDS = ("operation", "method", "path", "format", "status", "code", "item_code", "outcome",
          "fault")
NUMBERS = ("status", "code", "item_code")
CLOSEST_MAX = 20


class BadFilter(ValueError):
    """A filter the journal cannot apply (answered 400 with this one line)."""


def check_value(name: str, value: str) -> str | int:
    if name in NUMBERS:
        if not (value.isascii() and value.isdigit() and len(value) <= 4):
            raise BadFilter(f"{name}={value!r}: expected a number such as 200 or 1012")
        return int(value)
    if name == "operation" and value not in operations():
        raise BadFilter(f"operation={value!r}: no such operation; operations: "
                        f"{', '.join(sorted(operations()))}")
    if name == "format" and value not in MEDIA:
        raise BadFilter(f"format={value!r}: expected json or xml")
    if name == "outcome" and value not in OUTCOMES:
        raise BadFilter(f"outcome={value!r}: expected one of {', '.join(OUTCOMES)}")
    return value.upper() if name == "method" else value


class Filter:
    """What the entries must match: each named field one of its values (a
    field given twice matches either); `query.NAME=V` a query parameter whose
    value is V or lists V among its commas; `header.NAME=V` a header's value
    (as the journal shows it, secrets redacted); all of them at once."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.wanted: dict[str, list[Any]] = {}
        for name, value in pairs:
            lower = name.lower()
            if name.startswith("query.") and len(name) > 6:
                key = name
            elif lower.startswith("header.") and len(name) > 7:
                key = lower
            elif name in FIELDS:
                key = name
            else:
                raise BadFilter(f"unknown filter {name!r}; filters: {', '.join(FIELDS)}, "
                                "query.NAME, header.NAME, closest")
            self.wanted.setdefault(key, []).append(check_value(name, value))

    def describe(self) -> str:
        return ", ".join(f"{key}={'|'.join(map(str, values))}"
                         for key, values in self.wanted.items()) or "anything"

    def misses(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The filters an entry does not meet: name -> the entry's value."""
        missed: dict[str, Any] = {}
        query: dict[str, list[str]] | None = None
        for key, values in self.wanted.items():
            if key.startswith("query."):
                query = query if query is not None else query_of(entry)
                have = query.get(key[6:], [])
                if not any(v in values or set(v.split(",")) & set(values) for v in have):
                    missed[key] = have[0] if len(have) == 1 else have or None
                continue
            if key.startswith("header."):
                have_value: Any = entry["headers"].get(key[7:])
                met = have_value in values
            elif key == "item_code":
                have_value = entry["item_codes"]
                met = bool(set(have_value) & set(values))
            else:
                have_value = entry.get(key)
                met = have_value in values
            if not met:
                missed[key] = have_value
        return missed


def query_of(entry: dict[str, Any]) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(entry["query"], keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return query


def search(report: Report, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The entries that match the filters (oldest first), their count, the
    journal's dropped count and, with closest=N, the N entries that came
    nearest (fewest filters missed; newest first among equals), each with
    what differed."""
    closest = 0
    filters = []
    for name, value in pairs:
        if name == "closest":
            if not (value.isascii() and value.isdigit() and int(value) <= CLOSEST_MAX):
                raise BadFilter(f"closest={value!r}: expected a number 0-{CLOSEST_MAX}")
            closest = int(value)
        else:
            filters.append((name, value))
    wanted = Filter(filters)
    matched: list[dict[str, Any]] = []
    near: list[tuple[int, int, dict[str, Any], dict[str, Any]]] = []
    for index, entry in enumerate(report.entries):
        missed = wanted.misses(entry)
        if missed:
            near.append((len(missed), -index, entry, missed))
        else:
            matched.append(entry)
    answer: dict[str, Any] = {"filter": wanted.describe(), "count": len(matched),
                              "entries": matched, "dropped": report.dropped}
    if closest:
        near.sort(key=lambda n: (n[0], n[1]))
        answer["closest"] = [{**entry, "differs": missed}
                             for _n, _i, entry, missed in near[:closest]]
    return answer


def unmatched(report: Report) -> dict[str, Any]:
    """The requests that matched no operation or were refused, with the reason."""
    entries = [e for e in report.entries if e["outcome"] in ("unmatched", "refused")]
    return {"count": len(entries), "entries": entries, "dropped": report.dropped}

"""The request journal: what the mock received and answered, newest last.

One worker keeps it in memory; several workers (separate processes) share a
SQLite file so that any worker's admin endpoint sees every request.
"""

from __future__ import annotations

import json
import logging
import os
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

from capmock.mockserver.access import text
from capmock.mockserver.http import MockRequest, MockResponse
from capmock.mockserver.settings import Settings

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
        answer = replace(answer, body=b"")
    return raw._replace(request=request, answer=answer)


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


def as_entry(entry: Entry) -> dict[str, Any]:
    """The journal entry a client reads at /__capmock/journal."""
    raw, length, _size = entry
    request, answer = raw.request, raw.answer
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
        "operation": answer.operation,
        "status": answer.status,
        "code": answer.request_code,
        "ms": round(raw.seconds * 1000, 3),
    }


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

    def __init__(self, budget: Budget) -> None:
        self._buffer = Buffer(budget)
        self._body_bytes = budget.body_bytes

    def record(self, raw: Raw) -> None:
        self._buffer.add(keep(raw, self._body_bytes))

    def read(self) -> Report:
        return Report([as_entry(e) for e in self._buffer.snapshot()], self._buffer.dropped)

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

    def __init__(self, path: str, budget: Budget) -> None:
        self._path, self._budget = path, budget
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
            texts = [json.dumps(as_entry(e)) for e in batch]  # ASCII: len() counts bytes
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
    return SqliteJournal(path, budget) if path else MemoryJournal(budget)

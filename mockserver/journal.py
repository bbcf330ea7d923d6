"""The request journal: what the mock received and answered, newest last.

One worker keeps it in memory; several workers (separate processes) share a
SQLite file so that any worker's admin endpoint sees every request.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections import deque
from contextlib import closing
from datetime import UTC, datetime
from typing import Any, NamedTuple

from capmock.mockserver.http import MockRequest, MockResponse

JOURNAL_BODY = 4096


class Raw(NamedTuple):
    """What a request leaves behind; formatted only when someone reads the journal."""

    request_id: str
    time: float
    request: MockRequest
    answer: MockResponse
    seconds: float


def as_entry(raw: Raw) -> dict[str, Any]:
    """The journal entry a client reads at /__capmock/journal."""
    mock_request, answer = raw.request, raw.answer
    return {
        "id": raw.request_id,
        "time": datetime.fromtimestamp(raw.time, UTC).isoformat(timespec="milliseconds"),
        "method": mock_request.method,
        "path": mock_request.path,
        "query": mock_request.query_string,
        "headers": mock_request.headers,
        "body": mock_request.body[:JOURNAL_BODY].decode("utf-8", "replace"),
        "operation": answer.operation,
        "status": answer.status,
        "code": answer.request_code,
        "ms": round(raw.seconds * 1000, 3),
    }


class MemoryJournal:
    """One worker's journal (deque.append is atomic: no lock on the hot path)."""

    def __init__(self, size: int) -> None:
        self._entries: deque[Raw] = deque(maxlen=size)

    def record(self, raw: Raw) -> None:
        self._entries.append(raw)

    def entries(self) -> list[dict[str, Any]]:
        return [as_entry(raw) for raw in list(self._entries)]

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        return count


def prepare(path: str) -> None:
    """Create the journal file in WAL mode once, before worker processes start:
    workers racing to switch the mode would fail with "database is locked"."""
    with closing(sqlite3.connect(path, timeout=10, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY "
                   "AUTOINCREMENT, t REAL NOT NULL, entry TEXT NOT NULL)")


class SqliteJournal:
    """A bounded journal in a SQLite file shared by worker processes.

    A request only queues its entry; a writer thread per worker encodes and
    inserts queued entries in batches, so the request path never waits for
    SQLite. Reading or clearing first writes what this worker still holds.
    """

    def __init__(self, path: str, size: int) -> None:
        self._path, self._size = path, size
        self._queue: queue.SimpleQueue[Raw] = queue.SimpleQueue()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        prepare(path)
        threading.Thread(target=self._writer, name="capmock-journal", daemon=True).start()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            db.execute("PRAGMA synchronous=OFF")  # a debugging aid, not data to keep
            self._local.db = db
        return db

    def record(self, raw: Raw) -> None:
        self._queue.put(raw)

    def _writer(self) -> None:
        while True:
            first = self._queue.get()
            with self._write_lock:
                self._write([first, *self._pending()])

    def _pending(self) -> list[Raw]:
        batch = []
        while len(batch) < 1000:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[Raw]) -> None:
        if not batch:
            return
        db = self._db()
        with db:  # one transaction per batch
            cursor = db.executemany("INSERT INTO journal (t, entry) VALUES (?, ?)",
                                    [(r.time, json.dumps(as_entry(r))) for r in batch])
            last = db.execute("SELECT max(seq) FROM journal").fetchone()[0] or 0
            if cursor.rowcount and last % 100 < len(batch):
                db.execute("DELETE FROM journal WHERE seq <= ?", (last - self._size,))

    def flush(self) -> None:
        with self._write_lock:
            self._write(self._pending())

    def entries(self) -> list[dict[str, Any]]:
        self.flush()
        rows = self._db().execute(
            # by request time: each worker writes its own entries in batches
            "SELECT entry FROM (SELECT t, seq, entry FROM journal ORDER BY seq DESC LIMIT ?) "
            "ORDER BY t, seq", (self._size,))
        return [json.loads(r[0]) for r in rows]

    def clear(self) -> int:
        self.flush()
        return self._db().execute("DELETE FROM journal").rowcount


class NoJournal:
    """`--no-journal`: nothing recorded (load tests that need every microsecond)."""

    def record(self, raw: Raw) -> None:
        return None

    def entries(self) -> list[dict[str, Any]]:
        return []

    def clear(self) -> int:
        return 0


def open_journal(path: str | None, size: int) -> MemoryJournal | SqliteJournal | NoJournal:
    """In memory for one worker, a shared SQLite file for several; size 0: none."""
    if size == 0:
        return NoJournal()
    return SqliteJournal(path, size) if path else MemoryJournal(size)

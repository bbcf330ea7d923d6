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
from contextlib import closing
from datetime import UTC, datetime
from typing import Any, NamedTuple

from capmock.mockserver.http import MockRequest, MockResponse

JOURNAL_BODY = 4096
logger = logging.getLogger("capmock")


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
        db.execute("CREATE TABLE IF NOT EXISTS readers (id INTEGER PRIMARY KEY CHECK (id = 1), "
                   "generation INTEGER NOT NULL)")
        db.execute("INSERT OR IGNORE INTO readers (id, generation) VALUES (1, 0)")
        db.execute("CREATE TABLE IF NOT EXISTS workers (worker TEXT PRIMARY KEY, "
                   "pid INTEGER NOT NULL, acked INTEGER NOT NULL)")


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

    A request only appends to this worker's memory (~0.6 us of CPU; encoding
    and inserting each entry as it came cost ~20 us). Entries reach the file
    when someone reads the journal: the reader raises a generation number in
    the file, every worker's poller thread (one small SELECT every 50 ms) sees
    it and writes out what it holds, and the reader waits for every live
    worker's acknowledgement (at most a second, so a hung worker cannot hang
    the admin endpoint).
    """

    POLL_SECONDS = 0.05
    WAIT_SECONDS = 1.0

    def __init__(self, path: str, size: int) -> None:
        self._path, self._size = path, size
        self._pending: deque[Raw] = deque(maxlen=size)
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
        self._pending.append(raw)

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
        """Write what this worker holds, then acknowledge `generation`."""
        with self._write_lock, self._db() as db:
            batch = []
            while self._pending:
                batch.append(self._pending.popleft())
            db.executemany("INSERT INTO journal (t, entry) VALUES (?, ?)",
                           [(r.time, json.dumps(as_entry(r))) for r in batch])
            last = db.execute("SELECT max(seq) FROM journal").fetchone()[0] or 0
            db.execute("DELETE FROM journal WHERE seq <= ?", (last - self._size,))
            db.execute("UPDATE workers SET acked = max(acked, ?) WHERE worker = ?",
                       (generation, self._worker))

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

    def entries(self) -> list[dict[str, Any]]:
        self._gather()
        rows = self._db().execute(
            "SELECT entry FROM (SELECT t, seq, entry FROM journal ORDER BY t DESC, seq DESC "
            "LIMIT ?) ORDER BY t, seq", (self._size,))
        return [json.loads(r[0]) for r in rows]

    def clear(self) -> int:
        self._gather()
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

"""The request journal: what the mock received and answered, newest last.

One worker keeps it in memory; several workers (separate processes) share a
SQLite file so that any worker's admin endpoint sees every request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import deque
from typing import Any


class MemoryJournal:
    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count


class SqliteJournal:
    """A bounded journal in a SQLite file shared by worker processes."""

    def __init__(self, path: str, size: int) -> None:
        self._path, self._size = path, size
        self._local = threading.local()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS journal "
                       "(seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self._path, timeout=5, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # a debugging aid, not data to keep
            self._local.db = db
        return db

    def record(self, entry: dict[str, Any]) -> None:
        db = self._db()
        cursor = db.execute("INSERT INTO journal (entry) VALUES (?)", (json.dumps(entry),))
        if cursor.lastrowid % 100 == 0:
            db.execute("DELETE FROM journal WHERE seq <= ?", (cursor.lastrowid - self._size,))

    def entries(self) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT entry FROM (SELECT seq, entry FROM journal ORDER BY seq DESC LIMIT ?) "
            "ORDER BY seq", (self._size,))
        return [json.loads(r[0]) for r in rows]

    def clear(self) -> int:
        return self._db().execute("DELETE FROM journal").rowcount


def open_journal(path: str | None, size: int) -> MemoryJournal | SqliteJournal:
    return SqliteJournal(path, size) if path else MemoryJournal(size)

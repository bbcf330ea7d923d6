"""The sandbox's store: customers and their records, in SQLite or PostgreSQL.

One schema and one set of SQL statements serve both databases; a `Dialect`
holds the few differences. The database enforces what must hold across
workers and instances: the identifiers (mobile, email, external_id) are
UNIQUE columns, so two concurrent registrations can never both win, and a
write transaction locks what it reads (SQLite: BEGIN IMMEDIATE; PostgreSQL:
SELECT ... FOR UPDATE), so no update is lost.

`Store.run` is how the sandbox uses it: one transaction, rerun when the
database (not the work) failed before anything was committed, and a
`StoreFailure` naming the cause when it cannot go on (see `Store.run`).

A customer is a JSON document (the profile as the API shows it, without
user_id, which is the row id); its records (notes, tickets, transactions ...)
are documents of a `kind`, in the order they were added.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from capmock.openapi import clean

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

IDENTIFIER_COLUMNS = ("mobile", "email", "external_id")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")  # --store URLs for pgstore
SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id {serial} PRIMARY KEY,
    mobile TEXT UNIQUE,
    email TEXT UNIQUE,
    external_id TEXT UNIQUE,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    id {serial} PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_customer ON records (customer_id, kind, id);
CREATE INDEX IF NOT EXISTS records_by_kind ON records (kind, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
T = TypeVar("T")

# What went wrong in the database, as Store.trouble() tells it (None: not the
# database's doing, e.g. a Conflict, a refused file or a bug).
LOST = "lost"  # the connection is gone (server restart, pg_terminate_backend, idle timeout)
CONTENTION = "contention"  # the database aborted the transaction: deadlock, serialization
UNAVAILABLE = "unavailable"  # the database cannot be reached (cause of a StoreFailure)
COMMIT_UNKNOWN = "commit_unknown"  # lost during COMMIT (cause of a StoreFailure)
RECONNECTS = 1  # a lost connection: one more try on a new one
BACKOFF_S = 0.01  # contention: sleep up to 20, 40, 80, 160 ms (jittered) between tries


class Conflict(Exception):
    """A write would give a second customer an identifier already taken."""

    def __init__(self, column: str) -> None:
        super().__init__(f"{column} already belongs to another customer")
        self.column = column


class StoreFailure(Exception):
    """The database failed a transaction and no retry is left or allowed.

    `cause` is UNAVAILABLE (it cannot be reached), CONTENTION (it aborted every
    one of `tries` tries) or COMMIT_UNKNOWN (the connection broke during COMMIT:
    the transaction may have committed); nothing was written unless the cause
    is COMMIT_UNKNOWN. `reason` is the database's own first line.
    """

    def __init__(self, cause: str, error: BaseException, tries: int = 1) -> None:
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
        super().__init__(f"{cause}: {reason}")
        self.cause, self.reason, self.tries = cause, reason, tries


@dataclass
class Customer:
    id: int
    doc: dict[str, Any]

    @property
    def user_id(self) -> str:
        return str(self.id)


@dataclass
class Record:
    id: int
    customer_id: int
    kind: str
    doc: dict[str, Any]


def identifier_key(column: str, value: Any) -> str | None:
    """The value stored in a UNIQUE column: emails compare case-insensitively."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    return text.lower() if column == "email" else text


class Tx:
    """One transaction: everything a request reads and writes."""

    def __init__(self, store: Store, cursor: Any, locking: bool) -> None:
        self.store = store
        self.cursor = cursor
        self.lock = store.lock_clause if locking else ""

    def sql(self, statement: str, params: tuple = ()) -> Any:
        return self.cursor.execute(statement.replace("?", self.store.placeholder), params)

    # --- customers ---------------------------------------------------------------------
    def customer(self, by: str, value: Any) -> Customer | None:
        """The customer with identifier `by` (mobile, email, external_id, user_id)."""
        if by == "user_id":
            number = clean.whole_number(value)
            if number is None or number > 2**62:
                return None
            row = self.sql(f"SELECT id, doc FROM customers WHERE id = ?{self.lock}",
                           (number,)).fetchone()
        else:
            key = identifier_key(by, value)
            if by not in IDENTIFIER_COLUMNS or key is None:
                return None
            row = self.sql(f"SELECT id, doc FROM customers WHERE {by} = ?{self.lock}",
                           (key,)).fetchone()
        return Customer(row[0], json.loads(row[1])) if row else None

    def insert_customer(self, doc: dict[str, Any], user_id: int | None = None) -> Customer:
        columns = ["mobile", "email", "external_id", "doc"]
        values: list[int | str | None] = [
            *(identifier_key(c, doc.get(c)) for c in IDENTIFIER_COLUMNS), dumps(doc)]
        if user_id is not None:
            columns, values = ["id", *columns], [user_id, *values]
        marks = ", ".join("?" * len(values))
        with self.store.conflicts():
            row = self.sql(f"INSERT INTO customers ({', '.join(columns)}) VALUES ({marks}) "
                           "RETURNING id", tuple(values)).fetchone()
        return Customer(row[0], doc)

    def save_customer(self, customer: Customer) -> None:
        doc = customer.doc
        with self.store.conflicts():
            self.sql("UPDATE customers SET mobile = ?, email = ?, external_id = ?, doc = ? "
                     "WHERE id = ?",
                     (*(identifier_key(c, doc.get(c)) for c in IDENTIFIER_COLUMNS),
                      dumps(doc), customer.id))

    def customers_after(self, after_id: int, limit: int) -> list[Customer]:
        rows = self.sql("SELECT id, doc FROM customers WHERE id > ? ORDER BY id LIMIT ?",
                        (after_id, limit)).fetchall()
        return [Customer(r[0], json.loads(r[1])) for r in rows]

    def customers_where(self, column: str, values: list[str]) -> list[Customer]:
        """Customers whose identifier column holds one of `values` (an index lookup)."""
        keys = [k for k in (identifier_key(column, v) for v in values) if k is not None]
        if column not in (*IDENTIFIER_COLUMNS, "id") or not keys:
            return []
        marks = ", ".join("?" * len(keys))
        rows = self.sql(f"SELECT id, doc FROM customers WHERE {column} IN ({marks}) ORDER BY id",
                        tuple(keys)).fetchall()
        return [Customer(r[0], json.loads(r[1])) for r in rows]

    def count_customers(self) -> int:
        return self.sql("SELECT count(*) FROM customers").fetchone()[0]

    # --- records -----------------------------------------------------------------------
    def records(self, customer_id: int, kind: str) -> list[Record]:
        rows = self.sql("SELECT id, doc FROM records WHERE customer_id = ? AND kind = ? "
                        "ORDER BY id", (customer_id, kind)).fetchall()
        return [Record(r[0], customer_id, kind, json.loads(r[1])) for r in rows]

    def records_of_kind(self, kind: str) -> list[Record]:
        rows = self.sql("SELECT id, customer_id, doc FROM records WHERE kind = ? ORDER BY id",
                        (kind,)).fetchall()
        return [Record(r[0], r[1], kind, json.loads(r[2])) for r in rows]

    def record(self, kind: str, record_id: int) -> Record | None:
        row = self.sql(f"SELECT customer_id, doc FROM records WHERE kind = ? AND id = ?"
                       f"{self.lock}", (kind, record_id)).fetchone()
        return Record(record_id, row[0], kind, json.loads(row[1])) if row else None

    def add_record(self, customer_id: int, kind: str, doc: dict[str, Any],
                   record_id: int | None = None) -> Record:
        if record_id is None:
            row = self.sql("INSERT INTO records (customer_id, kind, doc) VALUES (?, ?, ?) "
                           "RETURNING id", (customer_id, kind, dumps(doc))).fetchone()
            return Record(row[0], customer_id, kind, doc)
        with self.store.conflicts():
            self.sql("INSERT INTO records (id, customer_id, kind, doc) VALUES (?, ?, ?, ?)",
                     (record_id, customer_id, kind, dumps(doc)))
        return Record(record_id, customer_id, kind, doc)

    def save_record(self, record: Record) -> None:
        self.sql("UPDATE records SET doc = ? WHERE id = ?", (dumps(record.doc), record.id))

    def all_records(self) -> list[Record]:
        rows = self.sql("SELECT id, customer_id, kind, doc FROM records ORDER BY id").fetchall()
        return [Record(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # --- the whole sandbox -------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.sql("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.sql("DELETE FROM meta WHERE key = ?", (key,))
        self.sql("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))

    def clear(self) -> None:
        for table in ("records", "customers", "meta"):
            self.sql(f"DELETE FROM {table}")
        self.store.restart_ids(self)


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


class Store(ABC):
    """A database holding one sandbox; one connection per thread."""

    placeholder = "?"
    lock_clause = ""
    serial = "INTEGER"
    contention_tries = 5  # tries of a transaction the database keeps aborting

    def __init__(self) -> None:
        self._local = threading.local()
        self._connections: list[Any] = []  # every thread's, so close() closes them all
        self._generation = 0  # raised by close(): threads then open a new connection
        self._guard = threading.Lock()

    def connection(self) -> Any:
        """This thread's connection; a new one when close() was called since, or
        when the server dropped it (the one that failed is closed and forgotten)."""
        conn = self.current()
        if conn is not None and self.usable(conn):
            return conn
        if conn is not None:
            self.discard(conn)
        conn = self.connect()
        with self._guard:
            self._connections.append(conn)
            self._local.conn, self._local.generation = conn, self._generation
        return conn

    def current(self) -> Any:
        """This thread's connection of this generation, if it has one."""
        if getattr(self._local, "generation", None) != self._generation:
            return None
        return self._local.conn

    def discard(self, conn: Any) -> None:
        with self._guard:
            if conn in self._connections:
                self._connections.remove(conn)
            if getattr(self._local, "conn", None) is conn:
                self._local.conn = None
        with suppress(Exception):  # it is broken already
            conn.close()

    def usable(self, conn: Any) -> bool:
        """False once the connection is known to be broken."""
        return True

    def trouble(self, error: BaseException) -> str | None:
        """LOST or CONTENTION when `error` is the database's failure,
        else None (the work's own error: it is not retried)."""
        return None

    @abstractmethod
    def connect(self) -> Any: ...

    @abstractmethod
    def begin(self, cursor: Any, write: bool, exclusive: bool) -> None:
        """Begin a transaction: read, write, or exclusive (the only writer:
        seeding, import, load, reset; the other writers wait until it ends)."""

    @abstractmethod
    @contextmanager
    def conflicts(self) -> Iterator[None]:
        """Turn the database's unique violation into Conflict(column)."""

    @abstractmethod
    def restart_ids(self, tx: Tx) -> None:
        """After a clear or an import: new ids continue after the largest one."""

    def run(self, work: Callable[[Tx], T], write: bool = False, exclusive: bool = False) -> T:
        """work(tx) in one transaction, rerun while the database (not the work)
        failed and nothing can have been committed:

        - the connection was lost mid-transaction: the server rolls back an open
          transaction whose connection ends, so it is rerun once on a new
          connection (a second loss: StoreFailure UNAVAILABLE);
        - the database aborted it (deadlock 40P01, serialization failure
          40001): rerun up to `contention_tries` times in all, after a short
          jittered sleep, then StoreFailure CONTENTION.

        Never rerun: a transaction whose COMMIT lost its connection (it may have
        committed; StoreFailure COMMIT_UNKNOWN, raised by transaction()), and
        every error of the work itself (Conflict, a refused file, a bug). So
        `work` must act only through `tx`: it may run more than once.
        """
        lost = contended = 0
        while True:
            try:
                with self.transaction(write, exclusive) as tx:
                    return work(tx)
            except StoreFailure:
                raise
            except Exception as error:
                trouble = self.trouble(error)
                if trouble is None:
                    raise
                if trouble == LOST and lost < RECONNECTS:
                    lost += 1
                elif trouble == CONTENTION and contended + 1 < self.contention_tries:
                    contended += 1
                    time.sleep(BACKOFF_S * 2 ** contended * random.uniform(0.5, 1))
                else:
                    raise StoreFailure(UNAVAILABLE if trouble == LOST else trouble, error,
                                       contended + 1) from error

    @contextmanager
    def transaction(self, write: bool = False, exclusive: bool = False) -> Iterator[Tx]:
        """One transaction (exclusive implies write). A connection the server
        dropped while idle fails at BEGIN, before anything was sent: BEGIN is
        tried again on a new connection, so every caller reconnects."""
        write = write or exclusive
        cursor = self.begun(write, exclusive)
        try:
            yield Tx(self, cursor, locking=write)
        except BaseException:
            self.abandon(cursor)
            raise
        else:
            self.commit(cursor)
        finally:
            cursor.close()

    def begun(self, write: bool, exclusive: bool) -> Any:
        """A cursor in a new transaction, on a connection that answered."""
        for attempt in range(RECONNECTS + 1):
            cursor = None
            try:
                cursor = self.connection().cursor()
                self.begin(cursor, write, exclusive)
                return cursor
            except Exception as error:
                if cursor is not None:  # the error that counts is BEGIN's
                    with suppress(Exception):
                        self.abandon(cursor)
                    cursor.close()
                if self.trouble(error) != LOST:
                    raise
                if attempt == RECONNECTS:
                    raise StoreFailure(UNAVAILABLE, error) from error
        raise AssertionError("unreachable")

    def abandon(self, cursor: Any) -> None:
        """Roll back; on a broken connection there is nothing to roll back (the
        server ended the transaction with the connection)."""
        if not self.usable(cursor.connection):
            return
        try:
            cursor.execute("ROLLBACK")
        except Exception:
            if self.usable(cursor.connection):
                raise

    def commit(self, cursor: Any) -> None:
        """COMMIT. An error answer means it did not commit (the work's or the
        database's error, handled as any other); a connection lost during
        COMMIT leaves the outcome unknown: StoreFailure COMMIT_UNKNOWN, which
        run() never reruns, since a replay could write the request twice."""
        try:
            cursor.execute("COMMIT")
        except Exception as error:
            if self.trouble(error) == LOST:
                raise StoreFailure(COMMIT_UNKNOWN, error) from error
            raise

    def schema_statements(self) -> list[str]:
        return [s for s in SCHEMA.format(serial=self.serial).split(";") if s.strip()]

    def create_schema(self) -> None:
        def create(tx: Tx) -> None:
            for statement in self.schema_statements():
                tx.sql(statement)

        self.run(create, exclusive=True)  # PostgreSQL: one worker creates it

    def close(self) -> None:
        """Close every thread's connection (a thread that goes on gets a new one)."""
        with self._guard:
            connections, self._connections = self._connections, []
            self._generation += 1
        for conn in connections:
            conn.close()


class SQLiteStore(Store):
    """A SQLite file (or :memory:) in WAL mode; synchronous=NORMAL keeps every
    committed transaction through a crash or kill of the process (only a power
    cut can lose the last ones).

    Writers queue on a lock before BEGIN IMMEDIATE: a thread lock within the
    process and an flock on `<store>.lock` across processes. Left to SQLite, a
    writer that finds the file locked sleeps 1, 2, 5 ... 100 ms between tries
    and is not woken when the lock frees: add's p99 was 157-239 ms at 32
    connections; the kernel's queue wakes the next writer at once (p99 15-23
    ms in the same measurement). Readers never wait (WAL).
    """

    serial = "INTEGER"  # INTEGER PRIMARY KEY is the rowid; AUTOINCREMENT is not needed

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._memory = threading.Lock() if path == ":memory:" else None
        self._writers = threading.Lock()
        self._lock_file = -1  # a descriptor, not a file object: nothing to warn about
        self._lock_pid = 0
        if self._memory is not None:
            self._shared = self.connect()  # one connection, used under the lock
        else:
            self.path = str(Path(path).expanduser())
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def connection(self) -> Any:
        return self._shared if self._memory is not None else super().connection()

    @contextmanager
    def transaction(self, write: bool = False, exclusive: bool = False) -> Iterator[Tx]:
        """A writer (exclusive or not: an import is a writer like any other)
        holds the writer lock and BEGIN IMMEDIATE, so it is the only one."""
        if self._memory is not None:
            with self._memory, super().transaction(write, exclusive) as tx:
                yield tx
        elif write or exclusive:
            with self._writers, self._process_lock(), \
                    super().transaction(write, exclusive) as tx:
                yield tx
        else:
            with super().transaction() as tx:
                yield tx

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        """The store's write lock among processes (held under the thread lock)."""
        if fcntl is None:  # no flock (Windows): SQLite's own busy handler queues them
            yield
            return
        if self._lock_pid != os.getpid():  # first use, or a forked child: own descriptor
            self._lock_file = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        super().close()
        if self._lock_pid == os.getpid():
            os.close(self._lock_file)
            self._lock_pid = 0

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        if self.path != ":memory:":
            use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def begin(self, cursor: Any, write: bool, exclusive: bool) -> None:
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextmanager
    def conflicts(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as error:
            text = str(error)
            if "UNIQUE" not in text:
                raise
            raise Conflict(text.rsplit(".", 1)[-1]) from None

    def restart_ids(self, tx: Tx) -> None:
        """Nothing to do: a new rowid is one more than the largest in the table."""

    def describe(self) -> str:
        return f"sqlite:{self.path}"


def use_wal(conn: sqlite3.Connection, seconds: float = 30) -> None:
    """Switch a file to WAL (it stays so). On a new file another process may be
    writing the first page: SQLite answers "database is locked" at once, not
    after the busy timeout, so try again for a while."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def open_store(url: str) -> Store:
    """A store for --store: a path, :memory:, or postgresql://..."""
    if url.startswith(POSTGRES_SCHEMES):
        from capmock.mockserver.sandbox.pgstore import PostgresStore

        store: Store = PostgresStore(url)
    else:
        store = SQLiteStore(url)
    store.create_schema()
    return store

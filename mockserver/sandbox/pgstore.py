"""The PostgreSQL store, for several mock instances sharing one sandbox
(psycopg 3: the maintained driver, with a binary build on PyPI)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from capmock.mockserver.sandbox.store import CONTENTION, LOST, Conflict, Store, Tx

CONSTRAINT_COLUMNS = {"customers_mobile_key": "mobile", "customers_email_key": "email",
                      "customers_external_id_key": "external_id", "customers_pkey": "id"}
SANDBOX_LOCK = 746373  # the advisory lock: writers share it, import/reset/seeding own it
CONNECT_TIMEOUT_S = 10  # unless the URL says otherwise (connect_timeout=)


class PostgresStore(Store):
    """Rows a write transaction reads are locked (FOR UPDATE) until it commits.

    Every write transaction also holds the sandbox's advisory lock, shared; an
    exclusive one (seeding, import, load, reset) holds it alone. So an import
    never meets a half-done registration: without it, a writer that inserted an
    identifier or an id the file has, after the import's DELETE, made the
    import fail with a unique violation (issue 12: 3 of 71 valid files refused
    while writers ran; 35 of 50 in test_pg_resilience). Writers simply wait
    for the import to commit.
    """

    placeholder = "%s"
    lock_clause = " FOR UPDATE"
    serial = "BIGSERIAL"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        given = conninfo_to_dict(url)
        # libpq keywords passed to connect(), where they become conninfo
        self.options: dict[str, Any] = (
            {} if "connect_timeout" in given else {"connect_timeout": CONNECT_TIMEOUT_S})

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True, prepare_threshold=None, **self.options)

    def usable(self, conn: Any) -> bool:
        return not conn.closed  # psycopg marks a connection closed once it broke

    def trouble(self, error: BaseException) -> str | None:
        """Deadlocks and serialization failures are CONTENTION; any other
        OperationalError that left this thread without a working connection
        (or came from connecting) is LOST."""
        if isinstance(error, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure):
            return CONTENTION
        if isinstance(error, psycopg.OperationalError):
            conn = self.current()
            if conn is None or conn.closed:
                return LOST
        return None

    def begin(self, cursor: Any, write: bool, exclusive: bool) -> None:
        """A read sees one snapshot (an export reads several tables); a write
        takes the advisory lock in the same round trip as BEGIN."""
        if not write:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        cursor.execute(f"BEGIN; SELECT {lock}({SANDBOX_LOCK})")

    @contextmanager
    def conflicts(self) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.UniqueViolation as error:
            name = error.diag.constraint_name or ""
            raise Conflict(CONSTRAINT_COLUMNS.get(name, name)) from None

    def restart_ids(self, tx: Tx) -> None:
        for table in ("customers", "records"):
            tx.sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")

    def describe(self) -> str:
        return "postgresql"

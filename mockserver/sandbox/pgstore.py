"""The PostgreSQL store, for several mock instances sharing one sandbox
(psycopg 3: the maintained driver, with a binary build on PyPI)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from capmock.mockserver.sandbox.store import Conflict, Store, Tx

CONSTRAINT_COLUMNS = {"customers_mobile_key": "mobile", "customers_email_key": "email",
                      "customers_external_id_key": "external_id", "customers_pkey": "id"}


class PostgresStore(Store):
    """Rows a write transaction reads are locked (FOR UPDATE) until it commits."""

    placeholder = "%s"
    lock_clause = " FOR UPDATE"
    serial = "BIGSERIAL"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True, prepare_threshold=None)

    def begin(self, cursor: Any, write: bool) -> None:
        """A read sees one snapshot (an export reads several tables)."""
        cursor.execute("BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    @contextmanager
    def conflicts(self) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.UniqueViolation as error:
            name = error.diag.constraint_name or ""
            raise Conflict(CONSTRAINT_COLUMNS.get(name, name)) from None

    def serialize(self, tx: Tx) -> None:
        tx.sql("SELECT pg_advisory_xact_lock(746373)")

    def restart_ids(self, tx: Tx) -> None:
        for table in ("customers", "records"):
            tx.sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")

    def describe(self) -> str:
        return "postgresql"

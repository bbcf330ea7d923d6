"""The whole sandbox as one file: export, import (replacing everything) and reset.

The file (sandbox-file.schema.yaml) lists customers, each with its records by
kind, so a QA team can start every run from the same state and read the
state a run left behind.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

from capmock import fixtures
from capmock.mockserver.sandbox.store import Conflict, Store, Tx

FORMAT = {"format": "capmock-sandbox", "version": 1}
SEEDED = "seeded"


class BadSandboxFile(ValueError):
    """The file is not a sandbox file; the message says where and why."""


@cache
def validator() -> jsonschema.Draft202012Validator:
    text = resources.files(__package__).joinpath("sandbox-file.schema.yaml").read_text("utf-8")
    return jsonschema.Draft202012Validator(fixtures.parse_yaml(text))


def parse(raw: bytes | str) -> dict[str, Any]:
    """A sandbox file (JSON, or YAML which includes JSON), checked against its schema."""
    try:
        data = fixtures.parse_yaml(raw)
    except yaml.YAMLError as error:
        raise BadSandboxFile(f"not JSON or YAML: {error}") from None
    errors = sorted(validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/" + "/".join(map(str, errors[0].absolute_path))
        raise BadSandboxFile(f"{where}: {errors[0].message}")
    return data


RECORD_ID = "_record_id"  # a record's id in the store, kept through export and import


def export(store: Store) -> dict[str, Any]:
    """The whole sandbox, read in one transaction (one snapshot)."""
    with store.transaction() as tx:
        records: dict[int, dict[str, list]] = {}
        for record in tx.all_records():
            records.setdefault(record.customer_id, {}).setdefault(record.kind, []).append(
                {RECORD_ID: record.id, **record.doc})
        customers, after = [], 0
        while batch := tx.customers_after(after, 1000):
            for customer in batch:
                entry = {"user_id": customer.user_id, **customer.doc}
                if customer.id in records:
                    entry["records"] = records[customer.id]
                customers.append(entry)
            after = batch[-1].id
    return {**FORMAT, "customers": customers}


def load(tx: Tx, data: dict[str, Any]) -> int:
    """Add the file's customers and records to the store; returns how many customers.
    Entries that carry their id go first, so an entry without one can never be
    given an id that a later entry of the file asks for."""
    entries = list(enumerate(data["customers"]))
    placed = [(i, e, insert(tx, i, e)) for i, e in entries if "user_id" in e]
    tx.store.restart_ids(tx)
    placed += [(i, e, insert(tx, i, e)) for i, e in entries if "user_id" not in e]
    records = [(customer_id, kind, doc) for _, entry, customer_id in sorted(placed)
               for kind, docs in entry.get("records", {}).items() for doc in docs]
    for keep_ids in (True, False):
        for customer_id, kind, doc in records:
            if (RECORD_ID in doc) == keep_ids:
                add_record(tx, customer_id, kind, doc)
        tx.store.restart_ids(tx)
    return len(entries)


def insert(tx: Tx, index: int, entry: dict[str, Any]) -> int:
    doc = {k: v for k, v in entry.items() if k not in ("user_id", "records")}
    user_id = int(entry["user_id"]) if "user_id" in entry else None
    try:
        return tx.insert_customer(doc, user_id).id
    except Conflict as conflict:
        raise BadSandboxFile(f"/customers/{index}: {conflict}") from None


def add_record(tx: Tx, customer_id: int, kind: str, doc: dict[str, Any]) -> None:
    record_id = doc.get(RECORD_ID)
    if record_id is not None and (not isinstance(record_id, int) or record_id < 1):
        raise BadSandboxFile(f"{RECORD_ID} {record_id!r} is not a positive whole number")
    body = {k: v for k, v in doc.items() if k != RECORD_ID}
    try:
        tx.add_record(customer_id, kind, body, record_id)
    except Conflict:
        raise BadSandboxFile(f"two records have {RECORD_ID} {record_id}") from None


def replace(store: Store, data: dict[str, Any]) -> int:
    """Import: the store holds exactly the file afterwards, or (on error) what it held.
    An exclusive transaction: writers wait until it ends, so none can take an
    identifier or id of the file halfway through (which refused valid files)."""
    def work(tx: Tx) -> int:
        tx.clear()
        count = load(tx, data)
        tx.set_meta(SEEDED, "import")
        return count

    return store.run(work, exclusive=True)


def add(store: Store, data: dict[str, Any]) -> int:
    """Load: the file's customers are added to what the store holds (all or
    nothing), exclusively as an import."""
    return store.run(lambda tx: load(tx, data), exclusive=True)


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)

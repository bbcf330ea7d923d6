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


def export(store: Store) -> dict[str, Any]:
    with store.transaction() as tx:
        records: dict[int, dict[str, list]] = {}
        for record in tx.all_records():
            records.setdefault(record.customer_id, {}).setdefault(record.kind, []).append(
                record.doc)
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
    """Add the file's customers and records to the store; returns how many customers."""
    for index, entry in enumerate(data["customers"]):
        doc = {k: v for k, v in entry.items() if k not in ("user_id", "records")}
        user_id = int(entry["user_id"]) if "user_id" in entry else None
        try:
            customer = tx.insert_customer(doc, user_id)
        except Conflict as conflict:
            raise BadSandboxFile(f"/customers/{index}: {conflict}") from None
        for kind, docs in entry.get("records", {}).items():
            for record in docs:
                tx.add_record(customer.id, kind, record)
    tx.store.restart_ids(tx)
    return len(data["customers"])


def replace(store: Store, data: dict[str, Any]) -> int:
    """Import: the store holds exactly the file afterwards, or (on error) what it held."""
    with store.transaction(write=True) as tx:
        store.serialize(tx)
        tx.clear()
        count = load(tx, data)
        tx.set_meta(SEEDED, "import")
    return count


def add(store: Store, data: dict[str, Any]) -> int:
    """Load: the file's customers are added to what the store holds (all or nothing)."""
    with store.transaction(write=True) as tx:
        store.serialize(tx)
        return load(tx, data)


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)

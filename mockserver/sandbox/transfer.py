"""The whole sandbox as one file: export, import (replacing everything) and reset.

The file (sandbox-file.schema.yaml) lists customers, each with its records by
kind, so a QA team can start every run from the same state and read the
state a run left behind.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import yaml

from capmock.mockserver.sandbox.sandboxfile import FORMAT, RECORD_ID, dumps, schema_problem
from capmock.mockserver.sandbox.store import Conflict, Store, Tx
from capmock.openapi import clean

__all__ = ["FORMAT", "RECORD_ID", "dumps"]  # the file's format, for the users of transfer

SEEDED = "seeded"


class BadSandboxFile(ValueError):
    """The file is not a sandbox file; the message says where and why (escaped:
    it may quote the file, and it is answered in JSON)."""

    def __init__(self, message: str) -> None:
        super().__init__(clean.escape_text(message))


# --- reading a file: JSON, or YAML of the core schema without aliases ---------------
#
# A sandbox file is data: what export writes (JSON) or a person writes (YAML).
# YAML is read with its core types only (null, bool, int, float, str, sequence,
# mapping). An explicit tag of any other type (!!binary, !!timestamp, !!set,
# !!python/..., local !tags) is refused; a plain 2024-01-31 is text, and << is
# a plain key (no timestamp or merge resolution). Aliases (*name) are refused
# altogether, found in the composed node graph before anything is constructed:
# a budget of aliases does not bound what they expand to (ten levels of ten
# aliases are a hundred aliases and 10**10 nodes; the 493 bytes became
# 33 MB), export never writes one, and a hand-written file does without.

CORE_TAGS = frozenset(f"tag:yaml.org,2002:{name}"
                      for name in ("null", "bool", "int", "float", "str", "seq", "map"))
INT_TAG = "tag:yaml.org,2002:int"


class CoreLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """yaml's safe loader (libyaml's C parser where PyYAML has it) resolving
    plain scalars to the core types only."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag in CORE_TAGS]
        for first, resolvers in getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        .yaml_implicit_resolvers.items()}


def where(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


def node_problem(root: yaml.Node) -> str | None:
    """The first alias, non-core tag or over-long whole number in the node graph."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias is the very node its anchor named
            return f"{where(node)}: an alias (*name); sandbox files take none"
        seen.add(id(node))
        if node.tag not in CORE_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            return f"{where(node)}: tag {tag} is not allowed; sandbox files take " \
                   "null, booleans, numbers, text, lists and mappings"
        if node.tag == INT_TAG and len(node.value) > clean.MAX_DIGITS + 4:
            return f"{where(node)}: a whole number of more than {clean.MAX_DIGITS} digits"
        if isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in reversed(node.value) for part in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return None


def load_yaml(text: str) -> Any:
    loader = CoreLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        problem = node_problem(root)
        if problem is not None:
            raise BadSandboxFile(problem)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def read_data(raw: bytes | str) -> Any:
    """The file's data: JSON first (what export writes, and ~50x faster than
    YAML on a large file), else YAML."""
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise BadSandboxFile(f"the file is not UTF-8: {error.reason} at byte "
                             f"{error.start}") from None
    try:
        return clean.load_json(text)
    except json.JSONDecodeError:
        pass  # not JSON: YAML, which may be JSON-like ({format: capmock-sandbox, ...})
    except clean.Unclean as error:
        raise BadSandboxFile(str(error)) from None
    except RecursionError:
        raise BadSandboxFile("nested too deeply") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as error:
        raise BadSandboxFile(f"not JSON or YAML: {error}") from None
    except RecursionError:
        raise BadSandboxFile("nested too deeply") from None


def parse(raw: bytes | str) -> dict[str, Any]:
    """A sandbox file (JSON, or YAML which includes JSON), checked against its
    schema and against what both formats can carry (clean.data_problem: text,
    keys, numbers), so nothing it stores can make a later answer unrenderable."""
    data = read_data(raw)
    problem = clean.data_problem(data)
    if problem is not None:
        raise BadSandboxFile(problem)
    problem = schema_problem(data)
    if problem is not None:
        raise BadSandboxFile(problem)
    return data


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


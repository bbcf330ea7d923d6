"""The sandbox store, on SQLite and on PostgreSQL (every test runs on both):
unique identifiers, transactions, records, the sandbox file, seeding, ids."""

from __future__ import annotations

import sqlite3
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandboxhelpers import race

from capmock.mockserver.sandbox import seed, transfer
from capmock.mockserver.sandbox import store as store_module
from capmock.mockserver.sandbox.store import Conflict, Store, open_store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def customer(mobile: str | None = None, email: str | None = None,
             external_id: str | None = None, **more: Any) -> dict[str, Any]:
    return {"mobile": mobile, "email": email, "external_id": external_id, **more}


def insert(store: Store, doc: dict[str, Any], user_id: int | None = None) -> int:
    with store.transaction(write=True) as tx:
        return tx.insert_customer(doc, user_id).id


def count(store: Store) -> int:
    with store.transaction() as tx:
        return tx.count_customers()


def sandbox_file(*customers: dict[str, Any]) -> dict[str, Any]:
    return {**transfer.FORMAT, "customers": list(customers)}


# --- unique identifiers ------------------------------------------------------------------

@pytest.mark.parametrize(("column", "first", "second"), [
    ("mobile", "919000000001", "919000000001"),
    ("mobile", "919000000001", " 919000000001 "),
    ("email", "Asha@Example.com", "asha@example.COM"),
    ("external_id", "EXT-1", "EXT-1"),
])
def test_a_taken_identifier_conflicts(store: Store, column: str, first: str,
                                      second: str) -> None:
    insert(store, customer(**{column: first}))
    with pytest.raises(Conflict) as raised:
        insert(store, customer(**{column: second}))
    assert raised.value.column == column
    assert count(store) == 1


def test_an_update_to_a_taken_identifier_conflicts(store: Store) -> None:
    insert(store, customer("919000000001", "a@x.io", "A"))
    other = insert(store, customer("919000000002", "b@x.io", "B"))
    for column, taken in [("mobile", "919000000001"), ("email", "A@X.IO"),
                          ("external_id", "A")]:
        with pytest.raises(Conflict) as raised, store.transaction(write=True) as tx:
            found = tx.customer("user_id", other)
            found.doc[column] = taken
            tx.save_customer(found)
        assert raised.value.column == column
    with store.transaction() as tx:
        assert tx.customer("user_id", other).doc["mobile"] == "919000000002"


def test_emails_are_found_case_insensitively_and_kept_as_sent(store: Store) -> None:
    user_id = insert(store, customer(email="Asha@Example.com"))
    with store.transaction() as tx:
        found = tx.customer("email", "ASHA@example.COM")
        assert found is not None and found.id == user_id
        assert found.doc["email"] == "Asha@Example.com"
        assert tx.customer("mobile", "Asha@Example.com") is None


def test_many_customers_may_lack_an_identifier(store: Store) -> None:
    insert(store, customer("919000000001"))
    insert(store, customer("919000000002", email=""))
    insert(store, customer(email="c@x.io", external_id=""))
    insert(store, customer(external_id="D"))
    assert count(store) == 4
    with store.transaction() as tx:
        assert tx.customer("email", "") is None
        assert tx.customer("external_id", None) is None


def test_unknown_lookups_find_nothing(store: Store) -> None:
    insert(store, customer("919000000001"))
    with store.transaction() as tx:
        assert tx.customer("user_id", "abc") is None
        assert tx.customer("user_id", str(2**63)) is None
        assert tx.customer("firstname", "x") is None
        assert tx.customers_where("mobile", ["919000000001", "", "919000000009"])[0].doc[
            "mobile"] == "919000000001"


# --- transactions and records ------------------------------------------------------------

def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    kept = insert(store, customer("919000000001", firstname="Asha"))
    with pytest.raises(Conflict), store.transaction(write=True) as tx:
        new = tx.insert_customer(customer("919000000002"))
        tx.add_record(new.id, "notes", {"description": "gone"})
        found = tx.customer("user_id", kept)
        found.doc["firstname"] = "changed"
        tx.save_customer(found)
        tx.set_meta("marker", "gone")
        tx.insert_customer(customer("919000000001"))  # taken: the whole transaction fails
    with pytest.raises(RuntimeError), store.transaction(write=True) as tx:
        tx.insert_customer(customer("919000000003"))
        raise RuntimeError("a handler bug")
    with store.transaction() as tx:
        assert [c.doc["mobile"] for c in tx.customers_after(0, 10)] == ["919000000001"]
        assert tx.customer("user_id", kept).doc["firstname"] == "Asha"
        assert tx.all_records() == []
        assert tx.meta("marker") is None
    insert(store, customer("919000000002"))  # the connection is usable afterwards
    assert count(store) == 2


def test_records_keep_their_order_by_kind(store: Store) -> None:
    first = insert(store, customer("919000000001"))
    second = insert(store, customer("919000000002"))
    with store.transaction(write=True) as tx:
        for n in range(3):
            tx.add_record(first, "notes", {"n": n})
            tx.add_record(second, "notes", {"n": 10 + n})
            tx.add_record(first, "tickets", {"n": 20 + n})
    with store.transaction(write=True) as tx:
        note = tx.records(first, "notes")[1]
        note.doc["edited"] = True
        tx.save_record(note)
    with store.transaction() as tx:
        assert [r.doc["n"] for r in tx.records(first, "notes")] == [0, 1, 2]
        assert [r.doc["n"] for r in tx.records(second, "notes")] == [10, 11, 12]
        assert [r.doc["n"] for r in tx.records(first, "tickets")] == [20, 21, 22]
        assert tx.records(second, "tickets") == []
        assert [r.doc["n"] for r in tx.records_of_kind("notes")] == [0, 10, 1, 11, 2, 12]
        assert tx.records(first, "notes")[1].doc == {"n": 1, "edited": True}
        found = tx.record("tickets", tx.records(first, "tickets")[0].id)
        assert found is not None and found.doc == {"n": 20}
        assert tx.record("notes", found.id) is None  # an id of another kind


def test_records_go_with_their_customer(store: Store) -> None:
    """customers (id) ON DELETE CASCADE: clearing the sandbox leaves no orphan."""
    user_id = insert(store, customer("919000000001"))
    with store.transaction(write=True) as tx:
        tx.add_record(user_id, "notes", {"n": 1})
        tx.sql("DELETE FROM customers WHERE id = ?", (user_id,))
    with store.transaction() as tx:
        assert tx.all_records() == []


# --- the sandbox file --------------------------------------------------------------------

def populate(store: Store) -> None:
    seed.ensure_seeded(store)
    with store.transaction(write=True) as tx:
        asha = tx.insert_customer(customer("919000000001", "Asha@Example.com", "A-1",
                                           firstname="Āsha ☂", extended_fields=[
                                               {"name": "gender", "value": "Female"}]))
        ravi = tx.insert_customer(customer(None, "ravi@x.io", None, lastname="R"))
        tx.add_record(asha.id, "notes", {"id": "7", "description": "line\nbreak"})
        tx.add_record(ravi.id, "notes", {"id": "8", "description": "other"})
        tx.add_record(asha.id, "transactions", {"number": "T1", "amount": 12.5,
                                                "items": [{"sku": "x", "qty": 2}]})
        tx.add_record(asha.id, "notes", {"id": "9", "nested": {"deep": [None, True, 0]}})


def test_export_then_import_is_lossless(store: Store) -> None:
    populate(store)
    exported = transfer.export(store)
    assert exported["customers"][-2]["records"]["notes"][1]["nested"] == \
        {"deep": [None, True, 0]}
    text = transfer.dumps(exported)
    transfer.replace(store, transfer.parse(text))
    assert transfer.export(store) == exported
    assert transfer.parse(transfer.dumps(transfer.export(store))) == exported
    with store.transaction() as tx:
        assert tx.meta(transfer.SEEDED) == "import"
    assert seed.ensure_seeded(store) is False  # an imported sandbox is not seeded over


def test_record_ids_survive_export_and_import(store: Store) -> None:
    first = insert(store, customer("919000000001"))
    second = insert(store, customer("919000000002"))
    with store.transaction(write=True) as tx:
        tx.add_record(first, "identity_changes", {"state": "PENDING", "new_value": "a"})
        tx.add_record(second, "identity_changes", {"state": "PENDING", "new_value": "b"})
        tx.add_record(first, "identity_changes", {"state": "PENDING", "new_value": "c"})
        before = [(r.id, r.doc["new_value"]) for r in tx.records_of_kind("identity_changes")]
    transfer.replace(store, transfer.export(store))
    with store.transaction() as tx:
        after = [(r.id, r.doc["new_value"]) for r in tx.records_of_kind("identity_changes")]
    assert after == before


@pytest.mark.parametrize(("raw", "where"), [
    (b"{not: [valid", "not JSON or YAML"),
    (b"[]", "/: "),
    (b'{"format": "capmock-sandbox", "version": 2, "customers": []}', "/version"),
    (b'{"format": "capmock-sandbox", "version": 1, "customers": [{"user_id": "0"}]}',
     "/customers/0/user_id"),
    (b'{"format": "capmock-sandbox", "version": 1, "customers": [{"mobile": 919}]}',
     "/customers/0/mobile"),
    (b'{"format": "capmock-sandbox", "version": 1, "customers": [{"records": {"n": [1]}}]}',
     "/customers/0/records/n/0"),
])
def test_a_malformed_file_is_refused_before_the_store(raw: bytes, where: str) -> None:
    with pytest.raises(transfer.BadSandboxFile, match=where):
        transfer.parse(raw)


@pytest.mark.parametrize(("customers", "message"), [
    ([customer("919200000001"), customer("919200000001")], "/customers/1: mobile"),
    ([customer(email="new@x.io"), customer(email="NEW@X.io")], "/customers/1: email"),
    ([customer(external_id="E"), customer("919200000002"), customer(external_id="E")],
     "/customers/2: external_id"),
    ([{"user_id": "7", "mobile": "919200000001"}, {"user_id": "7", "mobile": "919200000002"}],
     "/customers/1: id"),
])
@pytest.mark.parametrize("action", [transfer.replace, transfer.add])
def test_a_file_with_duplicate_identifiers_changes_nothing(
        store: Store, customers: list[dict[str, Any]], message: str, action: Any) -> None:
    populate(store)
    before = transfer.export(store)
    data = transfer.parse(transfer.dumps(sandbox_file(*customers)))  # valid by its schema
    with pytest.raises(transfer.BadSandboxFile, match=message):
        action(store, data)
    assert transfer.export(store) == before
    with store.transaction() as tx:
        assert tx.meta(transfer.SEEDED) == "document"


@pytest.mark.parametrize("action", [transfer.replace, transfer.add])
def test_a_file_against_its_schema_changes_nothing(store: Store, action: Any) -> None:
    populate(store)
    before = transfer.export(store)
    bad = b'{"format": "capmock-sandbox", "version": 1, "customers": [{"mobile": "1"}, 7]}'
    with pytest.raises(transfer.BadSandboxFile, match="/customers/1"):
        action(store, transfer.parse(bad))
    assert transfer.export(store) == before


def test_an_export_is_one_moment_of_the_sandbox(store: Store, store_url: str,
                                                monkeypatch: pytest.MonkeyPatch,
                                                request: pytest.FixtureRequest) -> None:
    """A registration committed while an export runs is in it entirely or not at all."""
    populate(store)
    writer = open_store(store_url)  # another worker, on its own connection
    all_records = store_module.Tx.all_records

    def records_then_a_registration(tx: Any) -> list[Any]:
        records = all_records(tx)
        with writer.transaction(write=True) as other:
            new = other.insert_customer(customer("919300000001"))
            other.add_record(new.id, "notes", {"n": 1})
        return records

    monkeypatch.setattr(store_module.Tx, "all_records", records_then_a_registration)
    try:
        exported = transfer.export(store)
    finally:
        writer.close()
    late = [c for c in exported["customers"] if c.get("mobile") == "919300000001"]
    assert late == [] or late[0].get("records") == {"notes": [{"n": 1}]}


def test_loading_a_file_adds_to_the_sandbox_all_or_nothing(store: Store) -> None:
    populate(store)
    before = transfer.export(store)
    assert transfer.add(store, sandbox_file(customer("919200000001"))) == 1
    after = transfer.export(store)
    assert after["customers"][:-1] == before["customers"]
    assert after["customers"][-1]["mobile"] == "919200000001"
    held = [customer("919200000002"), customer("919000000001", user_id="999")]
    with pytest.raises(transfer.BadSandboxFile, match="/customers/1: mobile"):
        transfer.add(store, sandbox_file(*held))
    held = [customer("919200000003"), {"user_id": before["customers"][0]["user_id"]}]
    with pytest.raises(transfer.BadSandboxFile, match="/customers/1: id"):
        transfer.add(store, sandbox_file(*held))
    assert transfer.export(store) == after


# --- seeding and ids ---------------------------------------------------------------------

def document_customers() -> list[dict[str, Any]]:
    """The document's customers as an export lists them: by user_id."""
    return sorted(seed.document_seed()["customers"], key=lambda c: int(c["user_id"]))


def exported_customers(store: Store) -> list[dict[str, Any]]:
    """An export's customers without the store's record ids (the seed has none)."""
    customers = transfer.export(store)["customers"]
    for entry in customers:
        for docs in entry.get("records", {}).values():
            for doc in docs:
                doc.pop(transfer.RECORD_ID)
    return customers


def test_the_document_seeds_a_fresh_store_once(store: Store) -> None:
    assert seed.ensure_seeded(store) is True
    seeded = exported_customers(store)
    assert seeded == document_customers()
    insert(store, customer("919000000001"))
    assert seed.ensure_seeded(store) is False
    assert count(store) == len(seeded) + 1
    assert seed.reset(store) == len(seeded)
    assert exported_customers(store) == seeded


def seed_in_a_process(url: str, start: Any, results: Any) -> None:
    try:
        start.wait(30)
        store = open_store(url)  # creating the schema races too
        results.put(seed.ensure_seeded(store))
        store.close()
    except BaseException:
        results.put(traceback.format_exc())


def test_racing_processes_seed_once(store_url: str, databases: Any) -> None:
    """Several workers or instances start on one store: one seeds it, the others
    see it seeded. (SQLite: the file exists first, as `capmock serve` creates it
    before its workers start; see the next test for a race on a new file.)"""
    if not store_url.startswith("postgresql"):
        open_store(store_url).close()
    processes = 4
    databases.settle()
    outcomes = race(seed_in_a_process, [(store_url,)] * processes, timeout=60)
    assert sorted(outcomes, key=str) == [False] * (processes - 1) + [True], outcomes
    store = open_store(store_url)
    try:
        assert exported_customers(store) == document_customers()
    finally:
        store.close()


def test_opening_a_new_sqlite_store_waits_while_another_process_creates_it(
        tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    creator = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    creator.execute("BEGIN IMMEDIATE")  # what the first opener holds while it writes page 1
    creator.execute("CREATE TABLE starting (x)")
    done = threading.Timer(0.3, creator.execute, ("COMMIT",))
    done.start()
    try:
        store = open_store(str(path))
        store.close()
    finally:
        done.join()
        creator.close()


def test_ids_continue_after_an_import(store: Store) -> None:
    transfer.replace(store, sandbox_file({"user_id": "500", "mobile": "919000000001",
                                          "records": {"notes": [{"n": 1}, {"n": 2}]}},
                                         {"user_id": "20", "mobile": "919000000002"}))
    with store.transaction() as tx:
        assert [c.id for c in tx.customers_after(0, 10)] == [20, 500]
        last_record = max(r.id for r in tx.all_records())
    new = insert(store, customer("919000000003"))
    assert new == 501
    with store.transaction(write=True) as tx:
        assert tx.add_record(new, "notes", {"n": 3}).id == last_record + 1
    transfer.add(store, sandbox_file({"user_id": "900", "mobile": "919000000004"}))
    assert insert(store, customer("919000000005")) == 901


def largest_seed_id() -> int:
    return max(int(c["user_id"]) for c in seed.document_seed()["customers"])


def test_ids_restart_after_a_reset(store: Store) -> None:
    seed.ensure_seeded(store)
    largest = largest_seed_id()
    for n in range(3):
        assert insert(store, customer(f"91900000000{n}")) == largest + 1 + n
    seed.reset(store)
    assert insert(store, customer("919000000009")) == largest + 1


@pytest.mark.parametrize("order", ["given_first", "new_first"])
def test_a_file_may_mix_given_and_new_user_ids(store: Store, store_url: str, order: str,
                                                request: pytest.FixtureRequest) -> None:
    """user_id is optional in a sandbox file ("a new one is given when absent"):
    the new ones must not take the ones the file gives."""
    seed.ensure_seeded(store)
    if order == "given_first":  # added to the sandbox: the id the store would give next
        given = str(largest_seed_id() + 1)
        transfer.add(store, sandbox_file({"user_id": given, "mobile": "919200000001"},
                                         customer("919200000002")))
    else:  # replacing the sandbox: ids start again at 1
        given = "1"
        transfer.replace(store, sandbox_file(customer("919200000002"),
                                             {"user_id": given, "mobile": "919200000001"}))
    ids = {c["mobile"]: c["user_id"] for c in transfer.export(store)["customers"]}
    assert ids["919200000001"] == given
    assert "919200000002" in ids

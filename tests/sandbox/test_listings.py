"""Operations the sandbox answers from data (mockserver/sandbox/listings.py):
a listing declared as a value, answered on a store, on plain Call values."""

from __future__ import annotations

from typing import Any

import pytest

from capmock.mockserver.port import Call
from capmock.mockserver.sandbox import listings, transfer
from capmock.mockserver.sandbox.store import Store, open_store
from capmock.openapi import envelope
from capmock.openapi.contract import Operation, operations
from capmock.openapi.outcomes import code_for

LISTING = listings.Listing(records="wishes", at=("wishes", "wish"), fields=("mobile", "firstname"),
                           count="count", limit="limit", default_limit=2)


def get_op() -> Operation:
    return next(o for o in operations().values() if o.method == "GET" and o.batch
                and "mobile" in o.identifiers)


@pytest.fixture
def store() -> Any:
    opened: Store = open_store(":memory:")
    transfer.add(opened, {"format": "capmock-sandbox", "version": 1, "customers": [
        {"user_id": "7", "mobile": "919900000001", "firstname": "Ann",
         "records": {"wishes": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}},
        {"user_id": "8", "mobile": "919900000002", "firstname": "Bo"}]})
    yield opened
    opened.close()


def answer(store: Store, query: dict[str, str], *mobiles: str) -> dict[str, Any]:
    call = Call(get_op(), query, [{"mobile": m} for m in mobiles])
    return store.run(lambda tx: listings.handler(LISTING)(call, tx))


def test_a_listing_shows_the_customer_s_records_capped_by_the_default(store: Store) -> None:
    data = answer(store, {}, "919900000001")
    [item] = envelope.answer_items(data, get_op().item)
    assert list(item)[:2] == ["mobile", "firstname"]
    assert item["count"] == "2"
    assert item["wishes"] == {"wish": [{"name": "a"}, {"name": "b"}]}
    assert envelope.item_succeeded(item)
    assert envelope.request_code(data) == 200


def test_the_limit_parameter_caps_the_list_and_one_record_is_an_object(store: Store) -> None:
    [item] = envelope.answer_items(answer(store, {"limit": "1"}, "919900000001"), get_op().item)
    assert (item["count"], item["wishes"]) == ("1", {"wish": {"name": "a"}})
    [item] = envelope.answer_items(answer(store, {"limit": "x"}, "919900000001"), get_op().item)
    assert item["count"] == "2"  # not a number: the default


def test_a_customer_without_records_lists_none_and_an_unknown_one_is_not_found(
        store: Store) -> None:
    data = answer(store, {}, "919900000002", "919900000009")
    empty, missing = envelope.answer_items(data, get_op().item)
    assert (empty["count"], empty["wishes"]) == ("0", {"wish": []})
    assert missing["item_status"]["code"] == str(code_for(get_op().id, "customer_not_found"))
    assert envelope.request_code(data) == 201


def test_every_declared_listing_names_an_operation_of_the_contract() -> None:
    for op, listing in listings.table().items():
        assert op in operations()
        assert listing.records and listing.at

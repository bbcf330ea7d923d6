"""GET customer/recommendations, the operation only the current reference describes,
added from data files alone (issue 10 item 7, issue 14 item 4): the contract holds it,
replay answers its derived sample in both formats and every applicable code on demand,
and the sandbox answers it as a listing (mockserver/sandbox/listings.yaml) of the
seeded records (seed.yaml)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from mockhelpers import DOCUMENT_FORM, call, client
from sources import declared_operations

from capmock import fixtures
from capmock.mockserver.sandbox import listings
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import codes, contract
from capmock.openapi.codec import xml_to_data
from capmock.openapi.outcomes import code_for

OP = "customer_recommendations"
PATH = "/v1.1/customer/recommendations"
FORMATS = ("json", "xml")


def decode(body: bytes, fmt: str) -> dict[str, Any]:
    return json.loads(body) if fmt == "json" else xml_to_data(body)


def listed(value: Any) -> list[Any]:
    """A repeated element as a list (one item is an object; an empty one "" or None)."""
    if value in (None, "", [], {}):
        return []
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def box() -> Iterator[FlaskClient]:
    """A fresh sandbox (in memory) for the module's GETs, which write nothing."""
    app = create_app(Settings(mode="sandbox", store=":memory:"))
    yield app.test_client()
    app.extensions["capmock"].sandbox.store.close()


def sample(fmt: str) -> dict[str, Any]:
    data = fixtures.find(OP, "default", "response", fmt)
    assert data is not None
    raw = data.read_bytes()
    return json.loads(raw) if fmt == "json" else xml_to_data(raw)


def customer_of(response: dict[str, Any]) -> dict[str, Any]:
    (only,) = listed(response["customer"])
    return only


# --- the contract ----------------------------------------------------------------------

def test_the_operation_is_declared_and_in_the_built_contract() -> None:
    assert OP in declared_operations()
    op = contract.operations()[OP]
    assert (op.method, op.path, op.batch, op.item) == ("GET", PATH, False, ("customer",))
    assert {"mobile", "email", "external_id"} <= set(op.identifiers)


def test_its_codes_are_the_table_s() -> None:
    table = codes.codes_for(OP)
    assert {1050, 1051, 1011, 1012, 1015, 1044} <= set(table)
    assert 1060 not in table  # not a batch operation (FACTS "Batch support")
    assert codes.item_code(OP, 1050).wire_message == "Customer recommendations fetch successful"
    assert code_for(OP, "succeeded") == 1050


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_documented_sample_validates_strict(fmt: str) -> None:
    found = fixtures.find(OP, "default", "response", fmt)
    assert found is not None
    if fmt == "json":
        assert contract.json_errors(OP, "response", sample("json"), "strict") == []
    else:
        assert contract.xml_errors(OP, "response", found.read_bytes(), "strict") == []


def test_the_reference_example_is_refused_only_for_its_boolean_success() -> None:
    """The reference's own example differs from the sample by success true (D66)."""
    raw = (fixtures.ROOT / "reference" / OP / "result.response.json").read_text("utf-8")
    errors = contract.json_errors(OP, "response", json.loads(raw), "lenient")
    assert errors and all("success" in e for e in errors), errors


# --- replay ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_replay_answers_the_sample(fmt: str) -> None:
    """On the defaults: the sample in the platform's form (the XML is the sample's)."""
    answer = call(client(), OP, fmt)
    assert answer.status_code == 200, answer.data[:300]
    want = sample(fmt)
    if fmt == "json":
        want = contract.render(OP, "response", want, "platform")
        # the customer an array, its item code a string (the sample writes the number 1050)
        assert want["response"]["customer"][0]["item_status"]["code"] == "1050"
    assert decode(answer.data, fmt) == want


@pytest.mark.parametrize("fmt", FORMATS)
def test_replay_on_the_document_form_answers_the_sample_itself(fmt: str) -> None:
    # about the document's form: the derived sample as the files write it
    answer = call(client(**DOCUMENT_FORM), OP, fmt)
    assert answer.status_code == 200, answer.data[:300]
    assert decode(answer.data, fmt) == sample(fmt)


@pytest.mark.parametrize("code", [1051, 1012, 1044])
@pytest.mark.parametrize("fmt", FORMATS)
def test_replay_forces_an_applicable_code(code: int, fmt: str) -> None:
    answer = call(client(), OP, fmt, headers={"Prefer": f"code={code}"})
    body = decode(answer.data, fmt)["response"]
    assert customer_of(body)["item_status"]["code"] == str(code)
    assert customer_of(body)["item_status"]["message"] == codes.item_code(OP, code).wire_message
    assert contract.json_errors(OP, "response", {"response": body}, "strict") == []


def test_replay_without_an_identifier_is_the_table_s_missing_identifier_code() -> None:
    answer = client().get(f"{PATH}?format=json")
    body = answer.get_json()["response"]
    assert customer_of(body)["item_status"]["code"] == str(code_for(OP, "missing_identifier"))


# --- sandbox ---------------------------------------------------------------------------

def get(box: FlaskClient, query: str, fmt: str = "json") -> tuple[int, dict[str, Any]]:
    answer = box.get(f"{PATH}?format={fmt}&{query}")
    if fmt == "xml":
        assert contract.xml_errors(OP, "response", answer.data, "strict") == []
    data = decode(answer.data, fmt)
    assert contract.json_errors(OP, "response", data, "strict") == []
    return answer.status_code, data["response"]


def test_the_sandbox_declares_it_as_a_listing() -> None:
    listing = listings.table()[OP]
    assert (listing.records, listing.at, listing.count) == (
        "recommendations", ("recommendations", "recommendation"), "count")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_sandbox_lists_the_seeded_customer_s_records(box: FlaskClient, fmt: str) -> None:
    status, response = get(box, "mobile=44700900999", fmt)
    customer = customer_of(response)
    assert status == 200 and customer["item_status"]["code"] == "1050"
    assert (customer["firstname"], customer["mobile"]) == ("John", "44700900999")
    shown = listed(customer["recommendations"]["recommendation"])
    assert [r["sku"] for r in shown] == ["SKU-1001", "SKU-1002", "SKU-1003"]
    assert str(customer["count"]) == "3"


def test_a_limit_caps_the_list(box: FlaskClient) -> None:
    _, response = get(box, "mobile=44700900999&limit=2")
    customer = customer_of(response)
    assert len(listed(customer["recommendations"]["recommendation"])) == 2
    assert customer["count"] == "2"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_sample_s_customer_has_none_as_the_reference_shows(box: FlaskClient, fmt: str) -> None:
    status, response = get(box, "mobile=9988776655", fmt)
    got, want = customer_of(response), customer_of(sample(fmt)["response"])
    assert status == 200
    for name in ("mobile", "email", "firstname", "lastname"):
        assert got[name] == want[name], name
    assert str(got["count"]) == str(want["count"]) == "0"
    node = got["recommendations"]
    assert listed(node.get("recommendation") if isinstance(node, dict) else node) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_unknown_customer_is_not_found(box: FlaskClient, fmt: str) -> None:
    status, response = get(box, "mobile=919900000999", fmt)
    customer = customer_of(response)
    assert customer["item_status"]["code"] == str(code_for(OP, "customer_not_found")) == "1012"
    assert customer["item_status"]["success"] == "false"
    assert status == 200  # an item-level failure (code 500), HTTP 200 on the platform's policy


def test_a_forced_code_applies_in_the_sandbox(box: FlaskClient) -> None:
    answer = box.get(f"{PATH}?format=json&mobile=44700900999",
                           headers={"Prefer": "code=1051"})
    body = answer.get_json()["response"]
    assert customer_of(body)["item_status"]["code"] == "1051"


def test_user_id_true_shows_the_customer_s_user_id(box: FlaskClient) -> None:
    _, response = get(box, "mobile=44700900999&user_id=true")
    assert list(customer_of(response))[:2] == ["user_id", "mobile"]
    assert customer_of(response)["user_id"] == "1034"
    _, response = get(box, "mobile=44700900999")
    assert "user_id" not in customer_of(response)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_sandbox_finds_the_customer_by_id(box: FlaskClient, fmt: str) -> None:
    """id= (the user id, as live clients send it back; D106 fixed) names the same customer."""
    _, by_mobile = get(box, "mobile=44700900999&user_id=true", fmt)
    user_id = customer_of(by_mobile)["user_id"]
    status, response = get(box, f"id={user_id}", fmt)
    customer = customer_of(response)
    assert status == 200 and customer["item_status"]["code"] == "1050"
    assert customer["mobile"] == "44700900999"
    assert [r["sku"] for r in listed(customer["recommendations"]["recommendation"])] == \
        ["SKU-1001", "SKU-1002", "SKU-1003"]
    _, unknown = get(box, "id=999999999", fmt)
    assert customer_of(unknown)["item_status"]["code"] == str(
        code_for("customer_recommendations", "customer_not_found_by_user_id"))

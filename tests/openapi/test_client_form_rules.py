"""The contract's rules for what live clients send and read (issue 14 item 3), on
plain values: routing of PUT, the request reading of JSON numbers, identifiers
(id, identifierName/Value, body items naming no customer), and the fields a
succeeded add/update item must carry (user_id) in both profiles and formats."""

from __future__ import annotations

import json
from typing import Any

import pytest

from capmock.openapi import contract, parameters, routing, validation
from capmock.openapi.codec import data_to_xml

PROFILES = ("lenient", "strict")


def check(op_id: str, query: list[tuple[str, str]], body: Any = None) -> validation.Checked:
    raw = json.dumps(body).encode() if body is not None else b""
    return validation.check_request(contract.operations()[op_id], query, "application/json",
                                    raw, batch_limit=10, max_depth=32)


def test_update_routes_post_and_put_to_one_operation() -> None:
    post = routing.route("POST", "/v1.1/customer/update")
    put = routing.route("PUT", "/v1.1/customer/update")
    assert isinstance(post, contract.Operation) and post is put
    assert post.methods == ("POST", "PUT") and post.method == "POST"
    refusal = routing.route("DELETE", "/v1.1/customer/update")
    assert isinstance(refusal, routing.Refusal) and refusal.allowed == ("POST", "PUT")
    assert isinstance(routing.route("PUT", "/v1.1/customer/add"), routing.Refusal)


@pytest.mark.parametrize(("data", "text"), [
    ({"mobile": 917755876888}, {"mobile": "917755876888"}),
    ({"v": [3, 2.5, True, False, None, "x"]}, {"v": ["3", "2.5", "true", "false", None, "x"]}),
])
def test_json_request_values_are_read_as_the_xml_text(data: Any, text: Any) -> None:
    assert contract.as_text(data) == text


def test_a_number_mobile_passes_the_request_contract_and_is_held_to_its_pattern() -> None:
    good = {"root": {"customer": [{"mobile": 917755876888}]}}
    bad = {"root": {"customer": [{"mobile": 12}]}}
    for profile in PROFILES:
        assert contract.json_errors("customer_add", "request", good, profile) == []
        assert contract.json_errors("customer_add", "request", bad, profile)
    checked = check("customer_add", [], good)
    assert checked.problems == [] and checked.items == [{"mobile": "917755876888"}]


@pytest.mark.parametrize("q", ["mobile:EQUALS:1", "(mobile:EQUALS:1)", "(a:1&b:EXACT:2)"])
def test_search_conditions_inside_parentheses(q: str) -> None:
    assert parameters.search_conditions(q) == q.strip("()")
    assert check("customer_search", [("q", q)]).problems == []


@pytest.mark.parametrize("value", ["json", "JSON", "Xml", "XML"])
def test_format_in_any_case_passes(value: str) -> None:
    assert check("customer_get", [("format", value), ("mobile", "44700900000")]).problems == []


def test_id_and_the_identifier_pair_are_identifiers() -> None:
    op = contract.operations()["customer_transactions"]
    assert validation.identifier_values(op, [("id", "5")]) == {"id": "5"}
    pair = [("identifierName", "email"), ("identifierValue", "a@b.co")]
    assert validation.identifier_values(op, pair) == {"email": "a@b.co"}
    assert validation.query_items(op, [("identifierName", "id"), ("identifierValue", "5,6")]) \
        == [{"id": "5"}, {"id": "6"}]
    assert [p.kind for p in check("customer_transactions", pair[:1]).problems] == \
        ["missing_identifier"]
    bad = check("customer_transactions", [("identifierName", "mobile"),
                                          ("identifierValue", "x")]).problems
    assert [(p.kind, p.field) for p in bad] == [("invalid_field", "mobile")]


def test_a_body_item_naming_no_customer_is_missing_identifier() -> None:
    checked = check("customer_add", [], {"root": {"customer": [
        {"mobile": "44700900000"}, {"firstname": "X", "email": ""}, {"user_id": "5"}]}})
    assert [(p.kind, p.item) for p in checked.problems] == [("missing_identifier", 1)]
    names = ("mobile", "email", "external_id", "user_id", "id")
    assert validation.body_identifiers("customer_add", "customer") == names
    assert validation.body_identifiers("customer_subscriptions_update", "subscription") == names
    assert validation.body_identifiers("customer_update_identity", "customer") == ()


def add_answer(item: dict[str, Any]) -> dict[str, Any]:
    return {"response": {"status": {"success": "true", "code": "200", "message": "Success"},
                         "customers": {"customer": [item]}}}


STATUS_OK = {"success": "true", "code": "1000", "message": "Customer Registration Successful"}
STATUS_FAILED = {"success": "false", "code": "1001", "message": "Invalid mobile"}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("op_id", ["customer_add", "customer_update"])
def test_a_succeeded_item_without_user_id_is_a_violation(op_id: str, profile: str) -> None:
    missing = add_answer({"mobile": "44700900000", "item_status": STATUS_OK})
    empty = add_answer({"user_id": "", "mobile": "44700900000", "item_status": STATUS_OK})
    present = add_answer({"user_id": "5", "mobile": "44700900000", "item_status": STATUS_OK})
    failed = add_answer({"mobile": "44700900000", "item_status": STATUS_FAILED})
    assert contract.json_errors(op_id, "response", missing, profile)
    assert contract.json_errors(op_id, "response", empty, profile)
    assert contract.json_errors(op_id, "response", present, profile) == []
    assert contract.json_errors(op_id, "response", failed, profile) == []
    assert contract.xml_errors(op_id, "response", data_to_xml(missing), profile) == \
        ["customers/customer[0]: a succeeded item has no user_id"]
    assert contract.xml_errors(op_id, "response", data_to_xml(present), profile) == []
    assert contract.xml_errors(op_id, "response", data_to_xml(failed), profile) == []


def test_only_add_and_update_have_success_fields() -> None:
    with_fields = {op.id for op in contract.operations().values() if op.success_fields}
    assert with_fields == {"customer_add", "customer_update"}

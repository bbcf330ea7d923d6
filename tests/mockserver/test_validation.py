"""Request validation: documented codes where the document has one, else a
request-level 400 naming the field; hostile input never gets a stack trace.
On the mock's defaults: the platform's wire (JSON request codes as numbers, items as
arrays) and HTTP status (an item-level outcome is HTTP 200, a request-level error its own)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from mockhelpers import client

from capmock import fixtures
from capmock.openapi.codec import xml_to_data


@pytest.fixture(scope="module")
def c() -> FlaskClient:
    return client(batch_limit=3)


def request_json(operation: str) -> dict[str, Any]:
    return json.loads(fixtures.find(operation, "default", "request", "json").read_text())


def is_xml(response: Any) -> bool:
    return response.content_type.startswith("application/xml")


def status_of(response: Any) -> dict[str, Any]:
    if is_xml(response):
        return xml_to_data(response.data)["response"]["status"]
    return response.get_json()["response"]["status"]


def written(response: Any, code: int) -> int | str:
    """A request code as the answer writes it: text in XML, a number in the platform's JSON."""
    return str(code) if is_xml(response) else code


def item_codes(response: Any, *path: str) -> list[str]:
    """The item codes at `path` (an array on the platform's wire; the codes stay strings)."""
    node = response.get_json()["response"]
    for key in path:
        node = node[key]
    assert isinstance(node, list), node
    return [i["item_status"]["code"] for i in node]


def assert_request_code(response: Any, code: int) -> None:
    """An item-level outcome: HTTP 200 on the platform's policy, the code in the body."""
    assert response.status_code == 200, response.data[:300]
    assert status_of(response)["code"] == written(response, code)


def assert_bad_request(response: Any, *words: str) -> None:
    assert response.status_code == 400, response.data[:300]
    status = status_of(response)
    assert status["code"] == written(response, 400)
    assert status["success"] == "false"
    for word in words:
        assert word in status["message"], status["message"]


def test_no_identifier_gets_1015(c) -> None:
    response = c.get("/v1.1/customer/get")
    assert_request_code(response, 500)
    assert item_codes(response, "customers", "customer") == ["1015"]


def test_subscriptions_without_identifier_get_1104(c) -> None:
    response = c.get("/v1.1/customer/subscriptions")
    assert item_codes(response, "subscriptions", "subscription") == ["1104"]


def test_invalid_mobile_in_a_registration_gets_1001(c) -> None:
    body = request_json("customer_add")
    body["root"]["customer"][1]["mobile"] = "12ab"
    response = c.post("/v1.1/customer/add", json=body)
    assert_request_code(response, 201)  # one item of two failed
    assert item_codes(response, "customers", "customer") == ["1000", "1001"]


def test_invalid_email_in_every_item_gets_1002_and_500(c) -> None:
    body = request_json("customer_add")
    for customer in body["root"]["customer"]:
        customer["email"] = "not-an-email"
    response = c.post("/v1.1/customer/add", json=body)
    assert_request_code(response, 500)
    assert item_codes(response, "customers", "customer") == ["1002", "1002"]


def test_empty_ticket_subject_gets_1303_in_xml_too(c) -> None:
    xml = fixtures.find("customer_tickets_add", "default", "request", "xml").read_text()
    body = xml.replace("<subject>points issue</subject>", "<subject></subject>")
    response = c.post("/v1.1/customer/tickets?format=json", data=body.encode(),
                      content_type="application/xml")
    assert item_codes(response, "customers", "customer") == ["1303"]


def test_bad_subscription_channel_gets_1101(c) -> None:
    body = request_json("customer_subscriptions_update")
    body["root"]["subscription"][0]["channel"] = "fax"
    response = c.post("/v1.1/customer/subscriptions", json=body)
    assert item_codes(response, "subscriptions", "subscription") == ["1101", "1000"]


def test_batch_over_the_limit_gets_1060(c) -> None:
    response = c.get("/v1.1/customer/get?mobile=44700900001,44700900002,44700900003,"
                     "44700900004")
    assert set(item_codes(response, "customers", "customer")) == {"1060"}


def test_batch_body_over_the_limit_gets_1060(c) -> None:
    body = request_json("customer_add")
    body["root"]["customer"] = body["root"]["customer"] * 2
    response = c.post("/v1.1/customer/add", json=body)
    assert set(item_codes(response, "customers", "customer")) == {"1060"}


def test_two_items_for_an_operation_without_batch_support(c) -> None:
    body = request_json("customer_update")
    body["root"]["customer"] = body["root"]["customer"] * 2
    assert_bad_request(c.post("/v1.1/customer/update", json=body), "no batch support")


def test_invalid_query_parameter_is_named(c) -> None:
    assert_bad_request(c.get("/v1.1/customer/transactions?mobile=44700900000&limit=ten"),
                       "limit", "not an integer")


def test_invalid_enum_query_parameter_is_named(c) -> None:
    assert_bad_request(c.get("/v1.1/customer/transactions?mobile=44700900000&sort=amount"),
                       "sort")


def test_invalid_format_parameter(c) -> None:
    assert_bad_request(c.get("/v1.1/customer/get?mobile=44700900000&format=csv"), "format")


def test_body_field_without_documented_code_is_named(c) -> None:
    body = request_json("customer_add")
    body["root"]["customer"][0]["registered_on"] = "yesterday"
    assert_bad_request(c.post("/v1.1/customer/add", json=body), "registered_on")


def test_missing_root_is_named(c) -> None:
    assert_bad_request(c.post("/v1.1/customer/add", json={"customer": {}}), "root")


@pytest.mark.parametrize(("body", "content_type", "words"), [
    (b'{"root": ', "application/json", ["malformed JSON"]),
    (b"<root><customer>", "application/xml", ["malformed XML"]),
    (b"", "application/json", ["empty"]),
    (b"\xff\xfe{}", "application/json", ["UTF-8"]),
    (b'{"root": {}}', "application/json; charset=iso-8859-1", ["charset"]),
    (b"[" * 5000 + b"]" * 5000, "application/json", ["deeper"]),
    (b"<a>" * 200 + b"</a>" * 200, "application/xml", ["deeper"]),
    (b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><root>&x;</root>',
     "application/xml", ["DOCTYPE"]),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
     b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><root>&lol2;</root>',
     "application/xml", ["DOCTYPE"]),
    (b"name=x", "application/x-www-form-urlencoded", ["Content-Type"]),
], ids=["truncated-json", "truncated-xml", "empty", "not-utf8", "latin1-charset",
        "deep-json", "deep-xml", "xxe", "billion-laughs", "form-body"])
def test_hostile_or_malformed_bodies_get_a_400_envelope(c, body: bytes, content_type: str,
                                                        words: list[str]) -> None:
    response = c.post("/v1.1/customer/add", data=body, content_type=content_type)
    assert_bad_request(response, *words)


def test_huge_body_gets_a_400_envelope() -> None:
    small = client(max_body_bytes=1000)
    response = small.post("/v1.1/customer/add", data=b"x" * 5000, content_type="application/json")
    assert_bad_request(response, "larger than 1000 bytes")


def test_non_ascii_input_is_fine(c) -> None:
    body = request_json("customer_add")
    body["root"]["customer"][0]["firstname"] = "他他他 Ünïcødé"
    assert c.post("/v1.1/customer/add", json=body).status_code == 200
    assert c.get("/v1.1/customer/get?external_id=%E4%BB%96").status_code == 200


def test_a_bug_is_answered_407_in_the_envelope_not_a_stack_trace(monkeypatch) -> None:
    from capmock.mockserver import wsgi

    def broken(*_args: Any) -> None:
        raise ZeroDivisionError("boom")

    app = client()
    monkeypatch.setattr(wsgi, "handle", broken)
    response = app.get("/v1.1/customer/get?mobile=44700900000")
    assert response.status_code == 407
    assert status_of(response)["code"] == written(response, 407)
    assert b"Traceback" not in response.data


def test_empty_item_list_is_rejected(c) -> None:
    assert_bad_request(c.post("/v1.1/customer/add", json={"root": {"customer": []}}),
                       "at least one customer")


def test_invalid_format_parameter_answers_in_the_accepted_format(c) -> None:
    response = c.get("/v1.1/customer/get?mobile=44700900000&format=csv",
                     headers={"Accept": "application/xml"})
    assert response.content_type.startswith("application/xml")
    assert_bad_request(response, "format")


def test_malformed_identifiers_are_not_echoed(c) -> None:
    response = c.get("/v1.1/customer/subscriptions?external_id=ok1,bad%09id&format=xml&__code=1109")
    data = xml_to_data(response.data)
    echoed = data["response"]["subscriptions"]["subscription"]
    assert [s.get("external_id") for s in echoed] == ["ok1", None]

"""Replay: every operation answers its documented sample in both formats, and
every applicable documented code on demand.

On the mock's defaults (the platform's wire and HTTP status) but where a test is about
the document's form (DOCUMENT_FORM)."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from mockhelpers import DOCUMENT_FORM, call, client, documented_path

from capmock import fixtures
from capmock.openapi import codes, contract, envelope
from capmock.openapi.codec import xml_to_data

OPERATIONS = list(contract.operations())


FORMS = {"platform": {}, "document": DOCUMENT_FORM}


@pytest.fixture(scope="module")
def c() -> FlaskClient:
    return client()


@pytest.fixture(scope="module")
def clients() -> dict[str, FlaskClient]:
    return {form: client(**settings) for form, settings in FORMS.items()}


def fixture_bytes(operation: str, fmt: str, example: str = "default") -> bytes:
    return fixtures.find(operation, example, "response", fmt).read_bytes()


def sample_on(form: str, operation: str, example: str = "default") -> object:
    """The documented JSON sample as written on `form`: the sample itself on the
    document's form, the contract's platform rendering of it on the platform's."""
    sample = json.loads(fixture_bytes(operation, "json", example))
    return sample if form == "document" else contract.render(operation, "response", sample,
                                                             "platform")


# The document's form is the samples' own; the platform's is the same sample rendered by
# the wire rules (codes as numbers, repeated elements as arrays). The XML is the same.
@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_documented_request_gets_documented_sample(clients, form: str, operation: str,
                                                    fmt: str) -> None:
    response = call(clients[form], operation, fmt)
    assert response.status_code == 200, response.data[:300]
    assert response.content_type == f"application/{fmt}; charset=utf-8"
    if fmt == "json":
        assert response.get_json() == sample_on(form, operation)
    else:
        assert xml_to_data(response.data) == xml_to_data(fixture_bytes(operation, "xml"))


def test_the_platform_sample_differs_from_the_document_s() -> None:
    """The platform's form of a sample is not the document's (the checks above compare
    two different bodies): the request code is a number, the customer an array."""
    platform = sample_on("platform", "customer_add")
    assert platform["response"]["status"]["code"] == 200
    assert isinstance(platform["response"]["customers"]["customer"], list)
    assert sample_on("document", "customer_add")["response"]["status"]["code"] == "200"


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("operation", [o for o in OPERATIONS
                                       if contract.operations()[o].method == "POST"])
def test_xml_request_body_with_json_answer(clients, form: str, operation: str) -> None:
    response = call(clients[form], operation, "json", body_fmt="xml")
    assert response.status_code == 200, response.data[:300]
    assert response.get_json() == sample_on(form, operation)


def test_same_request_same_bytes(c) -> None:
    first = call(c, "customer_add", "xml")
    second = call(c, "customer_add", "xml")
    assert first.data == second.data == fixture_bytes("customer_add", "xml")


def test_format_parameter_overrides_accept(c) -> None:
    response = c.get("/v1.1/customer/get?mobile=19889999999&format=xml",
                     headers={"Accept": "application/json"})
    assert response.content_type.startswith("application/xml")


def test_accept_header_picks_xml(c) -> None:
    response = c.get("/v1.1/customer/get?mobile=19889999999",
                     headers={"Accept": "application/xml"})
    assert response.content_type.startswith("application/xml")


def test_neither_header_nor_format_gets_json(c) -> None:
    response = c.get("/v1.1/customer/get?mobile=19889999999")
    assert response.content_type == "application/json; charset=utf-8"


def test_xml_default_format_is_a_setting() -> None:
    response = client(default_format="xml").get("/v1.1/customer/get?mobile=19889999999")
    assert response.content_type.startswith("application/xml")


def test_root_customer_as_object_is_accepted(c) -> None:
    body = json.loads(fixtures.find("customer_update", "default", "request", "json").read_text())
    body["root"]["customer"] = body["root"]["customer"][0]
    response = c.post("/v1.1/customer/update", json=body)
    assert response.status_code == 200, response.data


def test_prefer_example_picks_another_documented_example(c) -> None:
    path = documented_path("customer_referrals_add")
    body = fixtures.find("customer_referrals_add", "default", "request", "json").read_bytes()
    response = c.post(path, data=body, content_type="application/json",
                      headers={"Prefer": "example=invitees_by_type"})
    assert response.get_json() == sample_on("platform", "customer_referrals_add",
                                            "invitees_by_type")


def test_unknown_example_lists_the_documented_ones(c) -> None:
    response = c.get("/v1.1/customer/get?mobile=19889999999&__example=nope")
    assert response.status_code == 400
    assert "default" in response.get_json()["response"]["status"]["message"]


def item_statuses(body: dict, item_path: tuple[str, ...]) -> list[dict]:
    node = body["response"]
    for key in item_path:
        node = node[key]
    return [i["item_status"] for i in (node if isinstance(node, list) else [node])]


CODE_CASES = [(op, code) for op in OPERATIONS for code, entry in codes.codes_for(op).items()
              if "per-referral" not in entry.marks]


@pytest.mark.parametrize(("operation", "code"), CODE_CASES,
                         ids=[f"{o}-{c}" for o, c in CODE_CASES])
def test_prefer_code_returns_the_documented_code_and_message(c, operation: str,
                                                             code: int) -> None:
    entry = codes.codes_for(operation)[code]
    response = call(c, operation, "json", headers={"Prefer": f"code={code}"})
    body = response.get_json()
    expected_code = envelope.SUCCESS if entry.kind == "success" else envelope.TOTAL_FAILURE
    assert response.status_code == 200, body  # an item-level outcome, on the platform's policy
    assert body["response"]["status"]["code"] == expected_code
    # the platform's form throughout: arrays where the contract repeats, number codes
    assert contract.json_errors(operation, "response", body, "strict", "platform") == []
    op = contract.operations()[operation]
    for status in item_statuses(body, op.item):
        assert status == {"success": "true" if entry.kind == "success" else "false",
                          "code": str(code), "message": entry.wire_message}


def test_prefer_code_in_xml_renders_the_envelope(c) -> None:
    response = call(c, "customer_get", "xml", extra="&__code=1012")
    data = xml_to_data(response.data)
    assert data["response"]["customers"]["customer"]["item_status"]["code"] == "1012"
    assert data["response"]["customers"]["customer"]["mobile"] == "19889999999"


def test_inapplicable_code_lists_the_applicable_ones(c) -> None:
    response = call(c, "customer_get", "json", headers={"Prefer": "code=1303"})
    assert response.status_code == 400
    message = response.get_json()["response"]["status"]["message"]
    assert "1303 does not apply to customer_get" in message
    assert "1012" in message


def test_one_failing_item_of_a_batch_gives_201(c) -> None:
    response = call(c, "customer_add", "json", headers={"Prefer": "code=1001, item=2"})
    body = response.get_json()
    assert response.status_code == 200  # a partial failure is item-level: HTTP 200
    assert body["response"]["status"]["code"] == 201
    first, second = body["response"]["customers"]["customer"]
    assert first["item_status"]["code"] == "1000"
    assert second["item_status"]["code"] == "1001"
    assert second["mobile"] == "44700900999"  # echoes the request's item


def test_request_level_code_can_be_forced(c) -> None:
    response = call(c, "customer_get", "xml", extra="&__code=401")
    assert response.status_code == 401
    assert xml_to_data(response.data)["response"]["status"]["code"] == "401"


def test_batch_get_echoes_each_identifier(c) -> None:
    response = c.get("/v1.1/customer/get?mobile=44700900000,44700900001&__code=1012")
    customers = response.get_json()["response"]["customers"]["customer"]
    assert [x["mobile"] for x in customers] == ["44700900000", "44700900001"]

"""The mock's defaults since issue 14: the platform wire and the platform HTTP
status policy (openapi/wire.yaml; FACTS, 'What live clusters send'), in replay
and sandbox, JSON and XML; --wire document keeps the samples' bytes.

The other mock tests run on these defaults too; those about the document's form say so;
`capmock serve --wire` (flag, CAPMOCK_SERVE_WIRE, capmock.toml) is checked in
tests/test_config.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from capmock import fixtures
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import codec, contract, wire

OPERATIONS = list(contract.operations())
TILL1 = "Basic dGlsbDE6MjAyY2I5NjJhYzU5MDc1Yjk2NGIwNzE1MmQyMzRiNzA="  # till1 / md5("123")
PLAIN = "Basic dGlsbDE6MTIz"  # till1:123, the password not hashed
MEDIA = {"json": "application/json", "xml": "application/xml"}
CUSTOMER = {"mobile": "919876500001", "email": "wire.fidelity@example.com",
            "firstname": "Wire", "lastname": "Fidelity"}


def mock(**settings: Any) -> FlaskClient:
    if settings.get("mode") == "sandbox":
        settings.setdefault("store", ":memory:")
    return create_app(Settings(**settings)).test_client()


def documented(c: FlaskClient, operation: str, fmt: str = "json", **headers: str) -> Any:
    op = contract.operations()[operation]
    url = fixtures.find(operation, "default", "request", "url")
    assert url is not None
    path = url.read_text().splitlines()[0].split(" ", 1)[1]
    base, _, query = path.partition("?")
    kept = [p for p in query.split("&") if p and not p.startswith("format=")]
    path = base + "?" + "&".join([*kept, f"format={fmt}"])
    kwargs: dict[str, Any] = {"headers": headers}
    if op.method == "POST":
        body = fixtures.find(operation, "default", "request", fmt)
        assert body is not None
        kwargs.update(data=body.read_bytes(), content_type=MEDIA[fmt])
    return c.open(path, method=op.method, **kwargs)


def test_the_defaults_are_the_platforms() -> None:
    assert (Settings().wire, Settings().http_status) == ("platform", "platform")
    assert (Settings().wire, Settings().http_status) == (wire.default_wire(),
                                                         wire.default_http_status())


@pytest.mark.parametrize("operation", OPERATIONS)
def test_replay_answers_every_sample_in_the_platform_form(operation: str) -> None:
    answer = documented(mock(), operation)
    assert answer.status_code == 200
    body = json.loads(answer.data)
    assert contract.json_errors(operation, "response", body, "strict", "platform") == []
    assert body["response"]["status"]["code"] == 200


@pytest.mark.parametrize("operation", OPERATIONS)
def test_wire_document_answers_the_sample_files_bytes(operation: str) -> None:
    answer = documented(mock(wire="document"), operation)
    sample = fixtures.find(operation, "default", "response", "json")
    assert sample is not None
    assert answer.data == sample.read_bytes()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_xml_is_the_same_on_both_wires(operation: str) -> None:
    platform = documented(mock(), operation, "xml").data
    assert platform == documented(mock(wire="document"), operation, "xml").data
    sample = fixtures.find(operation, "default", "response", "xml")
    assert sample is not None
    assert platform == sample.read_bytes()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_forced_item_failure_is_http_200_with_code_500(fmt: str) -> None:
    answer = documented(mock(), "customer_get", fmt, Prefer="code=1012")
    assert answer.status_code == 200
    data = json.loads(answer.data) if fmt == "json" else codec.xml_to_data(answer.data)
    status = data["response"]["status"]
    assert status["code"] == (500 if fmt == "json" else "500")
    customer = data["response"]["customers"]["customer"]
    if fmt == "json":
        assert isinstance(customer, list)
        customer = customer[0]
    assert customer["item_status"]["code"] == "1012"
    mirrored = documented(mock(http_status="mirror"), "customer_get", fmt, Prefer="code=1012")
    assert mirrored.status_code == 500


def test_a_partial_batch_failure_is_http_200_with_code_201() -> None:
    answer = documented(mock(), "customer_add", "json", Prefer="code=1003, item=2")
    assert answer.status_code == 200
    body = json.loads(answer.data)
    assert body["response"]["status"]["code"] == 201
    assert [c["item_status"]["code"] for c in body["response"]["customers"]["customer"]] \
        == ["1000", "1003"]


@pytest.mark.parametrize(("path", "code"), [("/v1.1/customer/nope", 404),
                                            ("/v1.1/customer/get?format=json&mobile=1&__code=x",
                                             400)])
def test_request_level_errors_keep_their_status_line(path: str, code: int) -> None:
    answer = mock().get(path)
    assert answer.status_code == code
    assert json.loads(answer.data)["response"]["status"]["code"] == code


def test_a_wrong_method_is_405_with_a_numeric_code() -> None:
    answer = mock().get("/v1.1/customer/add?format=json")
    assert answer.status_code == 405
    assert json.loads(answer.data)["response"]["status"]["code"] == 405


def test_a_plain_password_is_http_401() -> None:
    c = mock(auth="till1:123")
    answer = documented(c, "customer_get", "json", Authorization=PLAIN)
    assert answer.status_code == 401
    assert json.loads(answer.data)["response"]["status"]["code"] == 401
    assert documented(c, "customer_get", Authorization=TILL1).status_code == 200


def test_always_200_still_answers_200_for_a_request_level_error() -> None:
    assert mock(http_status="always-200").get("/v1.1/customer/nope").status_code == 200


def register(c: FlaskClient) -> Any:
    body = json.dumps({"root": {"customer": [CUSTOMER]}})
    return c.post("/v1.1/customer/add?format=json", data=body, content_type=MEDIA["json"],
                  headers={"Authorization": TILL1})


def test_sandbox_acceptance_of_issue_14() -> None:
    """A registered customer read back with no format and no Accept: HTTP 200, code
    200, customers.customer[0]; an unknown one: HTTP 200, code 500, item "1012";
    a plain password: HTTP 401."""
    c = mock(mode="sandbox", auth="till1:123")
    added = register(c)
    assert added.status_code == 200
    assert json.loads(added.data)["response"]["status"]["code"] == 200
    read = c.get(f"/v1.1/customer/get?mobile={CUSTOMER['mobile']}",
                 headers={"Authorization": TILL1})
    assert read.status_code == 200
    body = json.loads(read.data)
    assert body["response"]["status"]["code"] == 200
    assert body["response"]["customers"]["customer"][0]["mobile"] == CUSTOMER["mobile"]
    assert contract.json_errors("customer_get", "response", body, "strict", "platform") == []
    unknown = c.get("/v1.1/customer/get?mobile=919876500999", headers={"Authorization": TILL1})
    assert unknown.status_code == 200
    body = json.loads(unknown.data)
    assert body["response"]["status"]["code"] == 500
    assert body["response"]["customers"]["customer"][0]["item_status"]["code"] == "1012"
    plain = c.get(f"/v1.1/customer/get?mobile={CUSTOMER['mobile']}",
                  headers={"Authorization": PLAIN})
    assert plain.status_code == 401


def test_sandbox_on_the_document_wire_and_mirror() -> None:
    c = mock(mode="sandbox", wire="document", http_status="mirror")
    assert register(c).status_code == 200
    unknown = c.get("/v1.1/customer/get?format=json&mobile=919876500999")
    assert unknown.status_code == 500
    assert json.loads(unknown.data)["response"]["status"]["code"] == "500"



@pytest.mark.parametrize(("setting", "code"), [("platform", 200), ("document", "200")])
def test_the_reference_page_s_document_shows_the_examples_on_the_served_wire(
        setting: str, code: Any) -> None:
    """/__capmock/openapi.json (what the reference page reads) writes each JSON response
    example as the mock answers it; openapi.yaml stays the published document."""
    served = json.loads(mock(wire=setting).get("/__capmock/openapi.json",
                                               headers={"Host": "127.0.0.1"}).data)
    media = served["paths"]["/v1.1/customer/add"]["post"]["responses"]["200"]["content"]
    value = media["application/json"]["examples"]["default"]["value"]["response"]
    assert value["status"]["code"] == code
    if setting == "platform":
        assert isinstance(value["customers"]["customer"], list)
    for path in served["paths"].values():  # every example is still valid (lenient)
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                json_media = response.get("content", {}).get("application/json", {})
                ref = json_media.get("schema", {}).get("$ref", "")
                for example in json_media.get("examples", {}).values():
                    if ref and "value" in example:
                        name = ref.rsplit("/", 1)[1]
                        assert contract.json_errors_for(name, example["value"], "strict",
                                                        setting) == [], (status, name)

"""What live clients send, answered by the replay mock (issue 14 item 3; FACTS,
"What live clusters send"): each rule once per format where it applies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mockhelpers import MEDIA, client, documented_path

from capmock import fixtures
from capmock.openapi import contract, envelope, validation
from capmock.openapi.codec import data_to_xml, xml_to_data
from capmock.openapi.outcomes import code_for

FORMATS = ("json", "xml")
ID_OPERATIONS = [op.id for op in contract.operations().values() if "id" in op.identifiers]
PAIR_OPERATIONS = [op.id for op in contract.operations().values() if op.identifier_pair]


def read(body: bytes, fmt: str) -> dict[str, Any]:
    return json.loads(body) if fmt == "json" else xml_to_data(body)


def encode(data: dict[str, Any], fmt: str) -> bytes:
    return json.dumps(data).encode() if fmt == "json" else data_to_xml(data)


def request_code(answer: Any, fmt: str) -> int | None:
    return envelope.request_code(read(answer.data, fmt))


def item_codes(op_id: str, answer: Any, fmt: str) -> list[str]:
    items = envelope.answer_items(read(answer.data, fmt), contract.operations()[op_id].item)
    return [str((i.get("item_status") or {}).get("code")) for i in items]


def documented_body(op_id: str) -> dict[str, Any]:
    return json.loads(fixtures.find(op_id, "default", "request", "json").read_text())


def test_the_rules_cover_operations() -> None:
    """The tables below are read from the contract, not listed by hand."""
    assert len(ID_OPERATIONS) >= 10 and "customer_get" in ID_OPERATIONS
    assert PAIR_OPERATIONS == ["customer_transactions", "customer_redemptions"]


@pytest.mark.parametrize("sent", ["JSON", "Json", "XML", "xml"])
def test_format_in_any_case(sent: str) -> None:
    answer = client().get(f"{documented_path('customer_get').split('?')[0]}"
                          f"?mobile=44700900000&format={sent}")
    fmt = sent.lower()
    assert answer.status_code == 200 and answer.mimetype == MEDIA[fmt]
    assert request_code(answer, fmt) == 200


def test_format_still_refuses_other_values() -> None:
    answer = client().get("/v1.1/customer/get?mobile=44700900000&format=yaml")
    assert answer.status_code == 400


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", ID_OPERATIONS)
def test_id_identifies_the_customer(op_id: str, fmt: str) -> None:
    op = contract.operations()[op_id]
    required = "".join(f"&{n}=x" for n in validation.required_parameters(op_id))
    answer = client().get(f"{op.path}?id=776538&format={fmt}{required}")
    assert answer.status_code == 200, answer.data
    assert request_code(answer, fmt) == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_id_is_checked_as_a_user_id(fmt: str) -> None:
    answer = client().get(f"/v1.1/customer/get?id=abc&format={fmt}")
    assert answer.status_code == 400 and request_code(answer, fmt) == 400
    assert "id: 'abc' does not match" in answer.get_data(as_text=True)
    assert "200" not in [str(c) for c in item_codes("customer_get", answer, fmt)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", PAIR_OPERATIONS)
def test_identifier_name_and_value(op_id: str, fmt: str) -> None:
    """identifierName=N&identifierValue=V answers as N=V does, valid or not."""
    path = contract.operations()[op_id].path
    c = client()
    for value in ("44700900000", "not-a-mobile", "44700900000,44700900999"):
        paired = c.get(f"{path}?identifierName=mobile&identifierValue={value}&format={fmt}")
        direct = c.get(f"{path}?mobile={value}&format={fmt}")
        assert (paired.status_code, request_code(paired, fmt), item_codes(op_id, paired, fmt)) \
            == (direct.status_code, request_code(direct, fmt), item_codes(op_id, direct, fmt))
    good = c.get(f"{path}?identifierName=mobile&identifierValue=44700900000&format={fmt}")
    assert good.status_code == 200 and request_code(good, fmt) == 200
    alone = c.get(f"{path}?identifierName=mobile&format={fmt}")  # no value: no identifier
    assert item_codes(op_id, alone, fmt) == [str(code_for(op_id, "missing_identifier"))]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("q", ["mobile:EQUALS:44700900000", "(mobile:EQUALS:44700900000)",
                               "(mobile:EQUALS:44700900000&email:EXACT:a@b.co)"])
def test_search_q_with_or_without_parentheses(q: str, fmt: str) -> None:
    answer = client().get("/v1.1/customer/search", query_string={"q": q, "format": fmt})
    assert answer.status_code == 200 and request_code(answer, fmt) == 200


@pytest.mark.parametrize("q", ["(mobile:EQUALS:44700900000", "((mobile:EQUALS:1))"])
def test_search_q_with_unbalanced_parentheses_is_refused(q: str) -> None:
    answer = client().get("/v1.1/customer/search", query_string={"q": q})
    assert answer.status_code == 400


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_update_answers_post_and_put(method: str, fmt: str) -> None:
    body = fixtures.find("customer_update", "default", "request", fmt).read_bytes()
    answer = client().open(f"/v1.1/customer/update?format={fmt}", method=method, data=body,
                           content_type=MEDIA[fmt])
    assert answer.status_code == 200 and request_code(answer, fmt) == 200
    assert item_codes("customer_update", answer, fmt) == ["1000"]


def test_put_is_only_for_update() -> None:
    answer = client().put("/v1.1/customer/add", data=b"{}", content_type=MEDIA["json"])
    assert answer.status_code == 405


@pytest.mark.parametrize("flag", ["ndnc_status", "ndsc_status"])
def test_ndnc_status_and_its_alias(flag: str) -> None:
    c = client()
    assert c.get(f"/v1.1/customer/get?mobile=44700900000&{flag}=true").status_code == 200
    assert c.get(f"/v1.1/customer/get?mobile=44700900000&{flag}=maybe").status_code == 400


@pytest.mark.parametrize("value", [917755876888, "917755876888"])
def test_json_number_mobile_is_read_as_text(value: Any) -> None:
    body = {"root": {"customer": [{"mobile": value, "firstname": "Ana",
                                   "custom_fields": {"field": [{"name": "age", "value": 3}]},
                                   "extended_fields": {"field": [{"name": "gender",
                                                                  "value": True}]}}]}}
    answer = client().post("/v1.1/customer/add", data=json.dumps(body),
                           content_type=MEDIA["json"])
    assert answer.status_code == 200
    assert set(item_codes("customer_add", answer, "json")) == {"1000"}


def test_a_json_number_is_held_to_the_fields_rules() -> None:
    body = {"root": {"customer": [{"mobile": 12, "firstname": "Ana"}]}}
    answer = client().post("/v1.1/customer/add", data=json.dumps(body),
                           content_type=MEDIA["json"])
    assert item_codes("customer_add", answer, "json") == \
        [str(code_for("customer_add", "invalid_field", "mobile"))]


def body_identifier_operations() -> list[str]:
    return [op.id for op in contract.operations().values() if "request" in op.body_schemas
            and validation.body_identifiers(op.id, validation.items_of(
                documented_body(op.id))[0])]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", body_identifier_operations())
def test_a_write_naming_no_customer_is_the_documented_code(op_id: str, fmt: str) -> None:
    """Replay answered 200 to a body item without any identifier (issue 14 item 6)."""
    op = contract.operations()[op_id]
    data = documented_body(op_id)
    key, items = validation.items_of(data)
    item = {k: v for k, v in items[0].items()
            if k not in validation.body_identifiers(op_id, key)}
    data["root"][key] = [item]
    answer = client().open(f"{op.path}?format={fmt}", method=op.method,
                           data=encode(data, fmt), content_type=MEDIA[fmt])
    expected = code_for(op_id, "missing_identifier")
    assert expected is not None
    assert item_codes(op_id, answer, fmt) == [str(expected)], answer.data
    assert request_code(answer, fmt) == 500


def test_the_rule_covers_every_write_that_names_a_customer() -> None:
    writes = [op.id for op in contract.operations().values() if "request" in op.body_schemas]
    named = body_identifier_operations()
    assert set(writes) - set(named) == {"customer_update_identity"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", ["customer_add", "customer_update"])
def test_a_successful_write_answers_user_id(op_id: str, fmt: str) -> None:
    op = contract.operations()[op_id]
    body = fixtures.find(op_id, "default", "request", fmt).read_bytes()
    answer = client().post(f"{op.path}?format={fmt}", data=body, content_type=MEDIA[fmt])
    items = envelope.answer_items(read(answer.data, fmt), op.item)
    assert items and all(str(i["user_id"]).isdigit() for i in items
                         if envelope.item_succeeded(i))


def test_served_examples_of_writes_carry_user_id() -> None:
    """Every named success example of add and update (what replay serves) carries
    each succeeded customer's user_id, in both formats."""
    seen = 0
    for op_id in ("customer_add", "customer_update"):
        op = contract.operations()[op_id]
        for fmt in FORMATS:
            for sample in fixtures.samples_for(op_id):
                if (sample.role, sample.format) != ("response", fmt):
                    continue
                data = read(sample.read_bytes(), fmt)
                for item in envelope.answer_items(data, op.item):
                    if envelope.item_succeeded(item):
                        seen += 1
                        assert str(item.get("user_id") or "").isdigit(), sample.file
    assert seen >= 4


# --- the headers of request-level errors (issue 14 item 6), replay and sandbox alike ---

def both_modes(**settings: Any) -> list[Any]:
    from capmock.mockserver.settings import Settings
    from capmock.mockserver.wsgi import create_app

    return [client(**settings),
            create_app(Settings(mode="sandbox", store=":memory:", **settings)).test_client()]


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/v1.1/customer/get", "GET"),
    ("PUT", "/v1.1/customer/add", "POST"),
    ("DELETE", "/v1.1/customer/update", "POST, PUT"),
    ("PATCH", "/v1.1/customer/notes", "GET, POST"),
])
def test_a_405_says_allow(method: str, path: str, allowed: str) -> None:
    for c in both_modes():
        answer = c.open(path, method=method)
        assert answer.status_code == 405 and answer.headers["Allow"] == allowed
        assert request_code(answer, "json") == 405


def test_a_404_and_a_success_carry_no_allow() -> None:
    c = client()
    assert "Allow" not in client().get("/v1.1/customer/nothing").headers
    assert "Allow" not in c.get("/v1.1/customer/get?mobile=44700900000").headers


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_401_asks_for_basic_credentials(fmt: str) -> None:
    import base64

    for c in both_modes(auth="till1:123"):
        for sent in (None, "till1:123", "till1:202cb962ac59075b964b07152d234b70"):
            headers = {} if sent is None else \
                {"Authorization": "Basic " + base64.b64encode(sent.encode()).decode()}
            answer = c.get(f"/v1.1/customer/get?mobile=44700900000&format={fmt}",
                           headers=headers)
            if sent and sent.endswith("70"):  # md5("123"): the platform's scheme
                assert answer.status_code == 200 and "WWW-Authenticate" not in answer.headers
                continue
            assert answer.status_code == 401 and request_code(answer, fmt) == 401
            assert answer.headers["WWW-Authenticate"].startswith('Basic realm="')


def test_a_browser_scripts_fetch_gets_no_challenge() -> None:
    """A challenge would put a script's answer behind the browser's login dialog."""
    c = client(auth="till1:123")
    fetch = c.get("/v1.1/customer/get?mobile=44700900000", headers={"Sec-Fetch-Mode": "cors"})
    assert fetch.status_code == 401 and "WWW-Authenticate" not in fetch.headers
    navigate = c.get("/v1.1/customer/get?mobile=44700900000",
                     headers={"Sec-Fetch-Mode": "navigate"})
    assert navigate.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_always_200_drops_the_error_headers_with_the_error_status() -> None:
    answer = client(http_status="always-200").delete("/v1.1/customer/get")
    assert answer.status_code == 200 and "Allow" not in answer.headers
    assert request_code(answer, "json") == 405

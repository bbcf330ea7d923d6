"""What live clients send, acted on by the sandbox (issue 14 items 3 and 6; FACTS,
"What live clusters send"): JSON numbers read as text, id=, identifierName/Value,
q in parentheses, format= in any case, PUT update, ndnc_status, user_id in the
answers of add and update, a write naming no customer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sandboxhelpers import MEDIA, code_of, decode, encode, get, listed, post, sandbox

from capmock.openapi import contract, envelope
from capmock.openapi.outcomes import code_for

FORMATS = ("json", "xml")
pytestmark = pytest.mark.usefixtures("both_stores")  # SQLite and PostgreSQL


def items(response: dict[str, Any], op_id: str) -> list[dict[str, Any]]:
    return envelope.answer_items({"response": response}, contract.operations()[op_id].item)


def register(c: Any, fmt: str = "json", **fields: Any) -> str:
    """Add one customer; its user_id as the answer gives it."""
    status, answer = post(c, "add", [{"firstname": "Ana", **fields}], fmt)
    (item,) = items(answer, "customer_add")
    assert status == 200 and code_of(item) == 1000, answer
    assert str(item["user_id"]).isdigit()
    return str(item["user_id"])


def test_json_numbers_and_booleans_are_stored_as_text() -> None:
    c = sandbox()
    body = {"root": {"customer": [{"mobile": 917755876888, "firstname": "Ana",
                                   "custom_fields": {"field": [{"name": "age", "value": 3}]},
                                   "extended_fields": {"field": [{"name": "vip",
                                                                  "value": True}]}}]}}
    answer = c.post("/v1.1/customer/add?format=json", data=json.dumps(body),
                    content_type=MEDIA["json"])
    (item,) = items(decode(answer.data, "json")["response"], "customer_add")
    assert code_of(item) == 1000 and item["mobile"] == "917755876888"
    _, found = get(c, "get", "mobile=917755876888")
    (got,) = items(found, "customer_get")
    assert got["mobile"] == "917755876888"
    assert listed(got["custom_fields"]["field"]) == [{"name": "age", "value": "3"}]
    assert listed(got["extended_fields"]["field"]) == [{"name": "vip", "value": "true"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_registered_customer_is_found_by_id(fmt: str) -> None:
    c = sandbox()
    user_id = register(c, fmt, mobile="919000000101")
    status, answer = get(c, "get", f"id={user_id}", fmt)
    (got,) = items(answer, "customer_get")
    assert status == 200 and code_of(got) == 1000
    assert (str(got["user_id"]), got["mobile"]) == (user_id, "919000000101")


@pytest.mark.parametrize("op_id", [op.id for op in contract.operations().values()
                                   if "id" in op.identifiers])
def test_id_names_the_customer_on_every_operation_that_takes_one(op_id: str) -> None:
    c = sandbox()
    user_id = register(c, mobile="919000000102")
    path = contract.operations()[op_id].path.rsplit("/", 1)[1]
    _, by_id = get(c, path, f"id={user_id}")
    _, by_mobile = get(c, path, "mobile=919000000102")
    codes_by_id = [code_of(i) for i in items(by_id, op_id) if "item_status" in i]
    codes_by_mobile = [code_of(i) for i in items(by_mobile, op_id) if "item_status" in i]
    assert codes_by_id == codes_by_mobile, (by_id, by_mobile)
    not_found = code_for(op_id, "customer_not_found_by_user_id")
    if not_found is not None:
        assert not_found not in codes_by_id


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", [op.id for op in contract.operations().values()
                                   if op.identifier_pair])
def test_identifier_name_and_value_find_the_customer(op_id: str, fmt: str) -> None:
    c = sandbox()
    user_id = register(c, mobile="919000000103", email="pair@example.com")
    path = contract.operations()[op_id].path.rsplit("/", 1)[1]
    for name, value in (("mobile", "919000000103"), ("email", "pair@example.com"),
                        ("id", user_id)):
        _, paired = get(c, path, f"identifierName={name}&identifierValue={value}", fmt)
        _, direct = get(c, path, f"{name}={value}", fmt)
        assert [code_of(i) for i in items(paired, op_id)] == \
            [code_of(i) for i in items(direct, op_id)], name
    _, unknown = get(c, path, "identifierName=mobile&identifierValue=919000000999", fmt)
    assert [code_of(i) for i in items(unknown, op_id)] == [code_for(op_id, "customer_not_found")]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("q", ["mobile:EQUALS:919000000104", "(mobile:EQUALS:919000000104)",
                               "(mobile:EQUALS:919000000104&firstname:EXACT:Ana)"])
def test_search_reads_q_inside_parentheses(q: str, fmt: str) -> None:
    c = sandbox()
    user_id = register(c, mobile="919000000104")
    answer = c.get("/v1.1/customer/search", query_string={"q": q, "format": fmt})
    data = decode(answer.data, fmt)["response"]
    assert answer.status_code == 200 and data["customer"]["count"] == "1"
    (found,) = listed(data["customer"]["results"]["item"])
    assert str(found["user_id"]) == user_id


@pytest.mark.parametrize("sent", ["JSON", "XML", "Json"])
def test_format_in_any_case(sent: str) -> None:
    c = sandbox()
    register(c, mobile="919000000105")
    answer = c.get(f"/v1.1/customer/get?mobile=919000000105&format={sent}")
    assert answer.status_code == 200 and answer.mimetype == MEDIA[sent.lower()]
    (got,) = items(decode(answer.data, sent.lower())["response"], "customer_get")
    assert code_of(got) == 1000


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_update_by_post_or_put(method: str, fmt: str) -> None:
    c = sandbox()
    user_id = register(c, mobile="919000000106")
    body = encode({"root": {"customer": [{"mobile": "919000000106", "firstname": "Bea"}]}}, fmt)
    answer = c.open(f"/v1.1/customer/update?format={fmt}", method=method, data=body,
                    content_type=MEDIA[fmt])
    (item,) = items(decode(answer.data, fmt)["response"], "customer_update")
    assert answer.status_code == 200 and code_of(item) == 1000
    assert str(item["user_id"]) == user_id  # what clients keep and send back as id=
    _, found = get(c, "get", f"id={user_id}", fmt)
    assert items(found, "customer_get")[0]["firstname"] == "Bea"


@pytest.mark.parametrize("flag", ["ndnc_status", "ndsc_status"])
def test_ndnc_status_and_its_alias(flag: str) -> None:
    c = sandbox()
    register(c, mobile="919000000107")
    status, answer = get(c, "get", f"mobile=919000000107&{flag}=true")
    assert status == 200 and code_of(items(answer, "customer_get")[0]) == 1000


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", ["customer_add", "customer_update"])
def test_a_write_naming_no_customer_is_the_documented_code(op_id: str, fmt: str) -> None:
    """update answered 1011 (not found by user id) to an item without identifiers."""
    c = sandbox()
    path = contract.operations()[op_id].path.rsplit("/", 1)[1]
    _, answer = post(c, path, [{"firstname": "Nobody"}], fmt)
    (item,) = items(answer, op_id)
    assert code_of(item) == code_for(op_id, "missing_identifier")
    assert envelope.request_code({"response": answer}) == 500


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failed_batch_item_echoes_its_identifiers_and_the_rest_act(fmt: str) -> None:
    c = sandbox()
    _, answer = post(c, "add", [
        {"mobile": "919000000108", "email": "not-an-email", "external_id": "E108"},
        {"mobile": "919000000109", "firstname": "Cy"}], fmt)
    bad, good = items(answer, "customer_add")
    assert code_of(bad) == code_for("customer_add", "invalid_field", "email")
    assert (bad["mobile"], bad["external_id"]) == ("919000000108", "E108")
    assert code_of(good) == 1000 and str(good["user_id"]).isdigit()
    assert envelope.request_code({"response": answer}) == 201
    _, found = get(c, "get", "mobile=919000000109")
    assert code_of(items(found, "customer_get")[0]) == 1000


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_forced_item_code_fails_that_item_and_the_others_act(fmt: str) -> None:
    """Prefer: code=NNNN, item=N in sandbox mode (issue 14 item 6): replay answered it
    alone, so no item of the request reached the store."""
    c = sandbox()
    body = encode({"root": {"customer": [{"mobile": "919000000110", "firstname": "A"},
                                         {"mobile": "919000000111", "firstname": "B"}]}}, fmt)
    answer = c.post(f"/v1.1/customer/add?format={fmt}", data=body, content_type=MEDIA[fmt],
                    headers={"Prefer": "code=1001, item=1"})
    first, second = items(decode(answer.data, fmt)["response"], "customer_add")
    assert (code_of(first), first["mobile"]) == (1001, "919000000110")
    assert code_of(second) == 1000 and str(second["user_id"]).isdigit()
    _, found = get(c, "get", "mobile=919000000110,919000000111", fmt)
    assert [code_of(i) for i in items(found, "customer_get")] == [1012, 1000]
    _, forced = get(c, "get", "mobile=919000000111", fmt)  # a read: item 1 forced to fail
    answer = c.get(f"/v1.1/customer/get?mobile=919000000111,919000000111&format={fmt}",
                   headers={"Prefer": "code=1012, item=2"})
    first, second = items(decode(answer.data, fmt)["response"], "customer_get")
    assert (code_of(first), code_of(second)) == (1000, 1012)
    assert code_of(items(forced, "customer_get")[0]) == 1000


def test_a_forced_code_for_every_item_is_still_replayed() -> None:
    c = sandbox()
    body = encode({"root": {"customer": [{"mobile": "919000000112"}]}}, "json")
    answer = c.post("/v1.1/customer/add?format=json", data=body, content_type=MEDIA["json"],
                    headers={"Prefer": "code=1001"})
    assert code_of(items(decode(answer.data, "json")["response"], "customer_add")[0]) == 1001
    _, found = get(c, "get", "mobile=919000000112")
    assert code_of(items(found, "customer_get")[0]) == 1012  # nothing was stored


# --- issue 14's acceptance, on `capmock serve` as a real process ----------------------------

def call_server(base: str, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    """(HTTP status, headers (any case), parsed JSON) of one request to a running server."""
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    sent = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(base + path, data, sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_issue_14_acceptance_on_a_served_sandbox(serve: Any) -> None:
    import base64
    import hashlib

    from capmock.mockserver.settings import Settings

    # the issue's acceptance is on the defaults, platform and platform: no --wire flag
    assert (Settings().wire, Settings().http_status) == ("platform", "platform")
    server = serve("--auth", "till1:123", "--store", ":memory:")
    digest = hashlib.md5(b"123").hexdigest()
    good = {"Authorization": "Basic " + base64.b64encode(f"till1:{digest}".encode()).decode()}
    plain = {"Authorization": "Basic " + base64.b64encode(b"till1:123").decode()}
    base = server.base

    # a JSON-number mobile registers; the answer gives the user_id clients keep
    status, _, data = call_server(base, "POST", "/v1.1/customer/add",
                                  {"root": {"customer": [{"mobile": 917755876888,
                                                          "firstname": "Ana"}]}}, good)
    (added,) = data["response"]["customers"]["customer"]
    assert status == 200 and added["item_status"]["code"] == "1000"
    user_id = added["user_id"]
    # read back with no format and no Accept: HTTP 200, "code": 200, customers.customer[0]
    status, _, data = call_server(base, "GET", "/v1.1/customer/get?mobile=917755876888",
                                  headers=good)
    assert status == 200 and data["response"]["status"]["code"] == 200
    assert data["response"]["customers"]["customer"][0]["mobile"] == "917755876888"
    # an unknown customer: HTTP 200, body code 500, item "1012"
    status, _, data = call_server(base, "GET", "/v1.1/customer/get?mobile=919999999990",
                                  headers=good)
    assert status == 200 and data["response"]["status"]["code"] == 500
    assert data["response"]["customers"]["customer"][0]["item_status"]["code"] == "1012"
    # a plain password: HTTP 401, asking for Basic credentials
    status, headers, data = call_server(base, "GET", "/v1.1/customer/get?mobile=917755876888",
                                        headers=plain)
    assert status == 401 and data["response"]["status"]["code"] == 401
    assert headers.get("WWW-Authenticate", "").startswith("Basic realm=")
    # found by id=
    status, _, data = call_server(base, "GET", f"/v1.1/customer/get?id={user_id}",
                                  headers=good)
    assert status == 200 and data["response"]["customers"]["customer"][0]["user_id"] == user_id
    # a PUT update succeeds
    status, _, data = call_server(base, "PUT", "/v1.1/customer/update",
                                  {"root": {"customer": [{"mobile": "917755876888",
                                                          "firstname": "Bea"}]}}, good)
    (updated,) = data["response"]["customers"]["customer"]
    assert status == 200 and updated["item_status"]["code"] == "1000"
    assert updated["user_id"] == user_id
    _, _, data = call_server(base, "GET", f"/v1.1/customer/get?id={user_id}", headers=good)
    assert data["response"]["customers"]["customer"][0]["firstname"] == "Bea"
    assert server.stop() == 0

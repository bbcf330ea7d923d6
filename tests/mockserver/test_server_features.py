"""What partners expect of a mock: auth as the platform checks it, 404/405,
request ids, CORS, latency, the journal and the contract at stable URLs."""

from __future__ import annotations

import time

import pytest
import yaml
from mockhelpers import client
from sources import declared_operations

from capmock.mockserver.auth import expected_header
from capmock.openapi.codec import xml_to_data

GET = "/v1.1/customer/get?mobile=19889999999"
# FACTS, Authentication: the documented test vectors.
TILL1 = "Basic dGlsbDE6MjAyY2I5NjJhYzU5MDc1Yjk2NGIwNzE1MmQyMzRiNzA="  # till1 / md5("123")
STORE_SERVER = "Basic c3RvcmUuc2VydmVyOjhhMTZhNmI3MDUwNWViMWYxZmY3Y2RjMGNkNTU1OWE3"


def test_auth_header_matches_the_facts_vectors() -> None:
    assert expected_header("till1:123") == TILL1
    assert expected_header("store.server:server123") == STORE_SERVER


@pytest.mark.parametrize(("credentials", "header"), [
    ("till1:123", TILL1), ("store.server:server123", STORE_SERVER)])
def test_auth_accepts_the_facts_vectors(credentials: str, header: str) -> None:
    assert client(auth=credentials).get(GET, headers={"Authorization": header}).status_code == 200


@pytest.mark.parametrize("header", [
    None, "Basic dGlsbDE6MTIz",  # till1:123, the password not hashed
    STORE_SERVER, "Bearer abc", "Basic !!!"])
def test_auth_rejects_anything_else_with_401_envelope(header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client(auth="till1:123").get(GET + "&format=xml", headers=headers)
    assert response.status_code == 401
    status = xml_to_data(response.data)["response"]["status"]
    assert status["code"] == "401"
    assert status["message"].startswith("Please check your username/password")


def test_auth_is_off_by_default() -> None:
    assert client().get(GET).status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_resource_is_404_in_the_envelope(fmt: str) -> None:
    response = client().get(f"/v1.1/customer/merge?format={fmt}")
    assert response.status_code == 404
    assert response.content_type.startswith(f"application/{fmt}")
    body = response.get_json() if fmt == "json" else xml_to_data(response.data)
    assert body["response"]["status"]["message"].startswith("Incorrect resource")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_wrong_method_is_405_in_the_envelope(fmt: str) -> None:
    response = client().put(f"/v1.1/customer/add?format={fmt}")
    assert response.status_code == 405
    body = response.get_json() if fmt == "json" else xml_to_data(response.data)
    # the platform's JSON writes the request code as a number; the XML holds text
    assert body["response"]["status"]["code"] == (405 if fmt == "json" else "405")
    assert "use POST" in body["response"]["status"]["message"]


def test_always_200_policy_keeps_the_code_in_the_body() -> None:
    response = client(http_status="always-200").get("/v1.1/customer/nope")
    assert response.status_code == 200
    assert response.get_json()["response"]["status"]["code"] == 404


def test_every_response_has_a_unique_request_id_and_a_charset() -> None:
    c = client()
    responses = [c.get(GET) for _ in range(20)] + [c.get("/nope"), c.post("/v1.1/customer/add")]
    ids = [r.headers["X-Cap-Requestid"] for r in responses]
    assert len(set(ids)) == len(ids)
    assert all("charset=utf-8" in r.content_type for r in responses)


def test_cors_preflight_and_headers() -> None:
    c = client()
    preflight = c.options("/v1.1/customer/add", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type, authorization"
    simple = c.get(GET, headers={"Origin": "http://localhost:3000"})
    assert simple.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert simple.headers["Access-Control-Expose-Headers"] == "X-Cap-Requestid"
    assert simple.headers["Vary"] == "Origin"


def test_cors_without_origin_allows_any_and_does_not_vary() -> None:
    response = client().get(GET)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Expose-Headers"] == "X-Cap-Requestid"
    assert "Vary" not in response.headers


def test_cors_can_be_switched_off() -> None:
    c = client(cors=False)
    response = c.get(GET, headers={"Origin": "http://localhost:3000"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = c.options("/v1.1/customer/add", headers={"Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 405


def elapsed(c: object, path: str, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    c.get(path, headers=headers or {})
    return time.perf_counter() - started


def test_latency_injection_per_request_and_server_wide() -> None:
    assert elapsed(client(), GET, {"Prefer": "delay=150"}) >= 0.15
    assert elapsed(client(), GET + "&__delay=150") >= 0.15
    assert elapsed(client(delay_ms=150), GET) >= 0.15


def test_journal_records_and_clears() -> None:
    c = client()
    c.get(GET)
    c.post("/v1.1/customer/add?format=xml", data=b"<root/>", content_type="application/xml")
    entries = c.get("/__capmock/journal").get_json()["entries"]
    assert [(e["method"], e["operation"], e["status"]) for e in entries] == [
        ("GET", "customer_get", 200), ("POST", "customer_add", 400)]
    assert entries[1]["body"] == "<root/>"
    assert c.delete("/__capmock/journal").get_json() == {"cleared": 2}
    assert c.get("/__capmock/journal").get_json()["entries"] == []


def entries(c: object) -> list[dict]:
    return c.get("/__capmock/journal").get_json()["entries"]


def test_journal_shared_through_sqlite(tmp_path) -> None:
    path = str(tmp_path / "journal.sqlite")
    first, second = client(journal_path=path), client(journal_path=path)
    first.get(GET)
    second.get("/nope")
    deadline = time.monotonic() + 5  # each worker's writer thread inserts within moments
    while len(entries(first)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e["status"] for e in entries(first)] == [200, 404]


def test_health_and_contract_urls() -> None:
    c = client()
    assert c.get("/__capmock/health").get_json()["operations"] == len(declared_operations())
    spec = yaml.safe_load(c.get("/__capmock/openapi.yaml").data)
    assert spec["openapi"] == "3.0.3"
    assert c.get("/__capmock/openapi.json").get_json()["info"] == spec["info"]
    codes = yaml.safe_load(c.get("/__capmock/codes.yaml").data)
    assert len(codes["request_level"]) == 11
    assert c.get("/__capmock/xsd/customer_get.response.xsd").data.startswith(b"<?xml")
    assert c.get("/__capmock/xsd/../../etc/passwd").status_code == 404
    assert c.get("/__capmock/docs").content_type == "text/html; charset=utf-8"


@pytest.mark.parametrize("method", ["QUERY", "TRACE", "PROPFIND"])
def test_any_other_method_is_405_in_the_envelope(method: str) -> None:
    response = client().open("/v1.1/customer/get?format=xml", method=method)
    assert response.status_code == 405
    assert xml_to_data(response.data)["response"]["status"]["code"] == "405"

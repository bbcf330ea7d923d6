"""The validation proxy between a client and an upstream: the capmock mock
server (documented requests pass untouched) and a deliberately broken server
(each defect reported on the right side, with the right message)."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from click.testing import CliRunner
from flask import Flask, Response, request
from flask.testing import FlaskClient
from serving import serving
from werkzeug.test import TestResponse

from capmock import fixtures
from capmock.mockserver.proxy.cli import command
from capmock.mockserver.proxy.server import create_app, header_safe
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app as create_mock_app
from capmock.openapi import contract, negotiation, validation
from capmock.openapi.codec import xml_to_data

MEDIA = {"json": "application/json", "xml": "application/xml"}
CAPMOCK = str(Path(sys.executable).with_name("capmock"))
GET = "/v1.1/customer/get?mobile=19889999999"


# --- servers and clients -------------------------------------------------------------

def sample(operation: str, role: str, fmt: str) -> bytes:
    return fixtures.find(operation, "default", role, fmt).read_bytes()


def without_status() -> tuple[bytes, str]:
    data = json.loads(sample("customer_get", "response", "json"))
    del data["response"]["status"]
    return json.dumps(data).encode(), "application/json"


def unknown_element() -> tuple[bytes, str]:
    body = sample("customer_get", "response", "xml")
    return body.replace(b"<customer>", b"<customer><surprise>yes</surprise>", 1), \
        "application/xml"


BREAKS: dict[str, Callable[[], tuple[bytes, str]]] = {
    "no-status": without_status,
    "unknown-element": unknown_element,
    "xml-always": lambda: (sample("customer_get", "response", "xml"), "application/xml"),
    "no-requestid": lambda: (sample("customer_get", "response", "json"), "application/json"),
}


def broken_app() -> Flask:
    """An upstream that answers with the defect named by the X-Break request header."""
    app = Flask("broken_upstream")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def view(path: str) -> Response:
        kind = request.headers["X-Break"]
        body, content_type = BREAKS[kind]()
        headers = {} if kind == "no-requestid" else {"X-Cap-Requestid": "broken-1"}
        return Response(body, content_type=content_type, headers=headers)

    return app


@pytest.fixture(scope="module")
def mock_upstream() -> Iterator[str]:
    with serving(create_mock_app(Settings())) as base:
        yield base


@pytest.fixture(scope="module")
def broken_upstream() -> Iterator[str]:
    with serving(broken_app()) as base:
        yield base


@pytest.fixture
def proxy() -> Iterator[Callable[..., FlaskClient]]:
    """A factory of proxy test clients; their connection pools are closed afterwards."""
    apps: list[Flask] = []

    def make(upstream: str, **settings: Any) -> FlaskClient:
        apps.append(create_app(upstream, **settings))
        return apps[-1].test_client()

    yield make
    for app in apps:
        app.extensions["capmock_proxy"].close()


@pytest.fixture
def direct() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False)
    yield pool
    pool.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def documented_request(operation: str, fmt: str) -> tuple[str, str, dict[str, Any]]:
    """Method, path and body arguments of the operation's documented request in `fmt`."""
    op = contract.operations()[operation]
    line = fixtures.find(operation, "default", "request", "url").read_text().splitlines()[0]
    base, _, query = line.split(" ", 1)[1].partition("?")
    kept = [p for p in query.split("&") if p and not p.startswith("format=")]
    path = base + "?" + "&".join([*kept, f"format={fmt}"])
    if op.method != "POST":
        return op.method, path, {}
    return op.method, path, {"data": sample(operation, "request", fmt),
                             "content_type": MEDIA[fmt]}


def violations(response: TestResponse) -> tuple[int, str | None]:
    return int(response.headers["X-Capmock-Violations"]), \
        response.headers.get("X-Capmock-Violation")


def envelope_status(response: TestResponse, fmt: str) -> dict[str, str]:
    data = xml_to_data(response.data) if fmt == "xml" else json.loads(response.data)
    return data["response"]["status"]


# --- a conforming upstream -------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("operation", list(contract.operations()))
def test_documented_request_passes_untouched(operation: str, fmt: str, mock_upstream: str,
                                             proxy: Callable[..., FlaskClient],
                                             direct: urllib3.PoolManager) -> None:
    method, path, body = documented_request(operation, fmt)
    response = proxy(mock_upstream, profile="strict").open(path, method=method, **body)
    assert violations(response) == (0, None)
    expected = direct.request(method, mock_upstream + path, body=body.get("data"),
                              headers={"Content-Type": body.get("content_type", "")})
    assert response.status_code == expected.status
    assert response.data == expected.data
    assert response.headers["Content-Type"] == expected.headers["Content-Type"]
    assert response.headers["X-Cap-Requestid"]


def test_unknown_operation_and_bad_query_are_request_side(
        mock_upstream: str, proxy: Callable[..., FlaskClient]) -> None:
    client = proxy(mock_upstream)
    count, first = violations(client.get("/v1.1/customer/nope"))
    assert count == 1 and first.startswith("request: unknown operation")
    count, first = violations(client.get("/v1.1/customer/get?mobile=abc"))
    assert count == 1 and first.startswith("request: query mobile: 'abc' does not match")
    count, _ = violations(client.get("/v1.1/customer/search"))  # q is required
    assert count == 1


def test_cors_preflight_is_relayed_unchecked(mock_upstream: str,
                                             proxy: Callable[..., FlaskClient]) -> None:
    response = proxy(mock_upstream).options("/v1.1/customer/get", headers={
        "Origin": "https://partner.example", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    assert violations(response) == (0, None)


def test_malformed_json_body_is_a_request_violation(
        mock_upstream: str, proxy: Callable[..., FlaskClient],
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="capmock.proxy"):
        response = proxy(mock_upstream).post("/v1.1/customer/add?format=json", data=b'{"root":',
                                             content_type="application/json")
    assert response.status_code == 400  # the upstream's answer, passed through
    count, first = violations(response)
    assert count == 1 and first.startswith("request: malformed JSON")
    assert [r.getMessage() for r in caplog.records if r.name == "capmock.proxy"] == [
        "customer_add request: malformed JSON: Expecting value: line 1 column 9 (char 8)"]


def test_violation_header_is_ascii_and_truncated(
        mock_upstream: str, proxy: Callable[..., FlaskClient]) -> None:
    client = proxy(mock_upstream)
    _, first = violations(client.get("/v1.1/customer/get?mobile=%C3%A9"))
    assert "'\\xe9' does not match" in first
    assert header_safe("\u00e9\n" + "x" * 400) == "\\xe9 " + "x" * 292 + "..."


# --- a broken upstream -----------------------------------------------------------------

@pytest.mark.parametrize(("kind", "path", "message"), [
    ("no-status", GET, "response: /response: 'status' is a required property"),
    ("xml-always", GET + "&format=json",
     "response: format=json asked for json but the response Content-Type is application/xml"),
    ("no-requestid", GET, "response: X-Cap-Requestid header is missing"),
])
def test_broken_upstream_is_reported(kind: str, path: str, message: str, broken_upstream: str,
                                     proxy: Callable[..., FlaskClient],
                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="capmock.proxy"):
        response = proxy(broken_upstream).get(path, headers={"X-Break": kind})
    assert response.status_code == 200
    assert response.data == BREAKS[kind]()[0]
    assert violations(response) == (1, message)
    assert [r.getMessage() for r in caplog.records] == ["customer_get " + message]


def test_unknown_xml_element_is_strict_only(broken_upstream: str,
                                            proxy: Callable[..., FlaskClient]) -> None:
    headers = {"X-Break": "unknown-element"}
    lenient = proxy(broken_upstream).get(GET + "&format=xml", headers=headers)
    assert violations(lenient) == (0, None)
    strict = proxy(broken_upstream, profile="strict").get(GET + "&format=xml", headers=headers)
    count, first = violations(strict)
    assert count == 1
    assert first.startswith("response: line ") and "'surprise': This element is not expected" \
        in first


def test_violations_are_listed(broken_upstream: str, proxy: Callable[..., FlaskClient]) -> None:
    client = proxy(broken_upstream)
    client.get(GET, headers={"X-Break": "no-requestid"})
    client.get(GET, headers={"X-Break": "no-status"})
    listed = client.get("/__capmock/violations").get_json()
    assert [(v["operation"], v["side"], v["message"]) for v in listed] == [
        ("customer_get", "response", "X-Cap-Requestid header is missing"),
        ("customer_get", "response", "/response: 'status' is a required property")]


# --- --fail and an unreachable upstream --------------------------------------------------

@pytest.mark.parametrize(("fmt", "kind", "message"), [
    ("json", "no-status", "response: /response: 'status' is a required property"),
    ("xml", "unknown-element", "response: line "),
])
def test_fail_answers_502_envelope(fmt: str, kind: str, message: str, broken_upstream: str,
                                   proxy: Callable[..., FlaskClient]) -> None:
    client = proxy(broken_upstream, profile="strict", fail=True)
    response = client.get(f"{GET}&format={fmt}", headers={"X-Break": kind})
    assert response.status_code == 502
    assert response.headers["Content-Type"] == f"{MEDIA[fmt]}; charset=utf-8"
    assert response.headers["X-Capmock-Violations"] == "1"
    status = envelope_status(response, fmt)
    assert (status["success"], status["code"]) == ("false", "407")
    assert status["message"].startswith(message)


def test_fail_lets_a_conforming_exchange_through(mock_upstream: str,
                                                 proxy: Callable[..., FlaskClient]) -> None:
    response = proxy(mock_upstream, fail=True).get(GET)
    assert response.status_code == 200 and violations(response) == (0, None)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unreachable_upstream_is_502_envelope(fmt: str,
                                              proxy: Callable[..., FlaskClient]) -> None:
    upstream = f"http://127.0.0.1:{free_port()}"
    response = proxy(upstream).get(GET, headers={"Accept": MEDIA[fmt]})
    assert response.status_code == 502
    status = envelope_status(response, fmt)
    assert status["code"] == "407"
    assert status["message"].startswith(f"upstream {upstream} is unreachable")
    assert contract.json_errors("customer_get", "response",
                                {"response": {"status": status}}, "strict") == []


# --- the command ------------------------------------------------------------------------

def test_command_rejects_a_non_http_upstream() -> None:
    result = CliRunner().invoke(command, ["--upstream", "ftp://example.com"])
    assert result.exit_code == 2 and "http://" in result.output


def wait_ready(url: str, process: subprocess.Popen, pool: urllib3.PoolManager) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, "capmock proxy exited early"
        try:
            pool.request("GET", url + "/__capmock/violations")
            return
        except urllib3.exceptions.HTTPError:
            time.sleep(0.05)
    pytest.fail("capmock proxy did not get ready")


@pytest.mark.slow
def test_command_serves_with_granian(broken_upstream: str, direct: urllib3.PoolManager) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    args = [CAPMOCK, "proxy", "--upstream", broken_upstream, "--port", base.rsplit(":", 1)[1]]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(base, process, direct)
        response = direct.request("GET", base + GET, headers={"X-Break": "no-requestid"})
        assert response.headers["X-Capmock-Violations"] == "1"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        output = process.stdout.read().decode()
        process.stdout.close()
    assert "customer_get response: X-Cap-Requestid header is missing" in output


# --- the request side is the contract layer's judgement --------------------------------------

def test_request_violations_are_the_contract_layers_problems(
        mock_upstream: str, proxy: Callable[..., FlaskClient]) -> None:
    op = contract.operations()["customer_add"]
    data = json.loads(sample("customer_add", "request", "json"))
    customer = data["root"]["customer"]
    (customer[0] if isinstance(customer, list) else customer)["mobile"] = "not-a-mobile"
    expected = [p.message for p in validation.schema_problems(op, data, "lenient")]
    assert expected
    response = proxy(mock_upstream).post("/v1.1/customer/add?format=json",
                                         data=json.dumps(data), content_type="application/json")
    assert violations(response) == (len(expected), f"request: {expected[0]}")
    odd = proxy(mock_upstream).post("/v1.1/customer/add", data=b"<root/>",
                                    content_type="application/xml; charset=latin-1")
    with pytest.raises(negotiation.NegotiationError) as refused:
        negotiation.body_format("application/xml; charset=latin-1", b"<root/>")
    assert violations(odd) == (1, f"request: {refused.value}")


# --- the wire profile (issue 14): the JSON form the answers are judged against ------------

@pytest.fixture(scope="module")
def document_upstream() -> Iterator[str]:
    """A server that answers in the document's JSON form (string codes, one-item objects)."""
    with serving(create_mock_app(Settings(wire="document", http_status="mirror"))) as base:
        yield base


def test_strict_judges_the_answer_on_the_platform_wire(
        document_upstream: str, mock_upstream: str, proxy: Callable[..., FlaskClient]) -> None:
    method, path, body = documented_request("customer_add", "json")  # its sample: "code": "200"
    found = proxy(document_upstream, profile="strict").open(path, method=method, **body)
    count, first = violations(found)
    assert count >= 1 and first is not None and "JSON number" in first, first
    # the same answer is right on the document's wire, and the platform's answer on its own
    assert violations(proxy(document_upstream, profile="strict", wire="document")
                      .open(path, method=method, **body)) == (0, None)
    assert violations(proxy(mock_upstream, profile="strict").open(path, method=method,
                                                                  **body)) == (0, None)
    # lenient accepts both forms
    assert violations(proxy(document_upstream).open(path, method=method, **body)) == (0, None)

"""Who may reach the admin endpoints under /__capmock/ (mockserver/access.py,
auth.py, admin.Guard): the credentials of --admin-auth or --auth, no
cross-site writes, no foreign Origin, and the Host check of every request."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from browser import dump_dom
from click.testing import CliRunner
from flask.testing import FlaskClient
from lxml import html
from serving import serving
from sources import declared_operations

from capmock.mockserver.auth import expected_header
from capmock.mockserver.serve import command as serve_command
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi.codec import xml_to_data

GET = "/v1.1/customer/get?mobile=19889999999"
TILL1 = expected_header("till1:123")  # the platform's form: base64(till1:md5("123"))
TYPED = "Basic " + base64.b64encode(b"till1:123").decode()  # a browser's dialog
ADMIN = {"X-Capmock-Admin": "1"}
JSON = "application/json"
EMPTY_FILE = json.dumps({"format": "capmock-sandbox", "version": 1, "customers": []})
ONE_FILE = json.dumps({"format": "capmock-sandbox", "version": 1,
                       "customers": [{"mobile": "919000000071"}]})

# (method, path, body, content type) of every admin endpoint but health, and the
# status an authorised caller gets
REPLAY_ENDPOINTS = [
    ("GET", "/__capmock/journal", None, None, 200),
    ("DELETE", "/__capmock/journal", None, None, 200),
    ("GET", "/__capmock/openapi.yaml", None, None, 200),
    ("GET", "/__capmock/openapi.json", None, None, 200),
    ("GET", "/__capmock/codes.yaml", None, None, 200),
    ("GET", "/__capmock/xsd/customer_get.response.xsd", None, None, 200),
    ("GET", "/__capmock/docs", None, None, 200),
]
SANDBOX_ENDPOINTS = [
    ("POST", "/__capmock/sandbox/reset", None, None, 200),
    ("GET", "/__capmock/sandbox/export", None, None, 200),
    ("POST", "/__capmock/sandbox/import", EMPTY_FILE, JSON, 200),
    ("POST", "/__capmock/sandbox/load", ONE_FILE, JSON, 200),
    ("GET", "/__capmock/sandbox/identity_changes", None, None, 200),
    ("POST", "/__capmock/sandbox/identity_changes/1/approve", None, None, 404),
    ("POST", "/__capmock/sandbox/identity_changes/1/reject", None, None, 404),
]


@pytest.fixture
def apps() -> Iterator[list[Any]]:
    """Apps made by a test; their sandbox stores are closed afterwards."""
    made: list[Any] = []
    yield made
    for app in made:
        box = app.extensions["capmock"].sandbox
        if box is not None:
            box.store.close()


def make(apps: list[Any], **settings: Any) -> FlaskClient:
    if settings.get("mode") == "sandbox":
        settings.setdefault("store", ":memory:")
    app = create_app(Settings(**settings))
    apps.append(app)
    return app.test_client()


def call(c: FlaskClient, method: str, path: str, body: str | None, content_type: str | None,
         headers: dict[str, str] | None = None) -> Any:
    headers = dict(headers or {})
    if method == "POST" and content_type is None:
        headers.update(ADMIN)
    return c.open(path, method=method, data=body, content_type=content_type, headers=headers)


def refused(answer: Any, status: int) -> str:
    """The admin's refusal: the status, in the admin's JSON; its message."""
    assert answer.status_code == status, answer.data
    assert answer.content_type.startswith("application/json")
    return answer.get_json()["error"]


def all_endpoints() -> list[Any]:
    return ([pytest.param("replay", *e, id=f"{e[0]} {e[1]}") for e in REPLAY_ENDPOINTS]
            + [pytest.param("sandbox", *e, id=f"{e[0]} {e[1]}") for e in SANDBOX_ENDPOINTS])


# --- credentials ----------------------------------------------------------------------

@pytest.mark.parametrize(("mode", "method", "path", "body", "content_type", "status"),
                         all_endpoints())
def test_every_admin_endpoint_needs_the_credentials_of_auth(
        apps: list[Any], mode: str, method: str, path: str, body: str | None,
        content_type: str | None, status: int) -> None:
    c = make(apps, mode=mode, auth="till1:123")
    for headers in ({}, {"Authorization": "Basic dGlsbDE6d3Jvbmc="}, {"Authorization": "Bearer x"}):
        answer = call(c, method, path, body, content_type, headers)
        assert "Authorization" in refused(answer, 401)
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="capmock admin"')
    for good in (TILL1, TYPED):  # each on a fresh app: load adds the same customer once
        answer = call(make(apps, mode=mode, auth="till1:123"), method, path, body, content_type,
                      {"Authorization": good})
        assert answer.status_code == status, answer.data


@pytest.mark.parametrize(("mode", "method", "path", "body", "content_type", "status"),
                         all_endpoints())
def test_without_auth_the_admin_endpoints_stay_open(
        apps: list[Any], mode: str, method: str, path: str, body: str | None,
        content_type: str | None, status: int) -> None:
    assert call(make(apps, mode=mode), method, path, body, content_type).status_code == status


def test_admin_auth_replaces_auth_for_the_admin_endpoints(apps: list[Any]) -> None:
    c = make(apps, auth="till1:123", admin_auth="ops:s3cret")
    ops = {"Authorization": expected_header("ops:s3cret")}
    assert c.get("/__capmock/journal", headers={"Authorization": TILL1}).status_code == 401
    assert c.get("/__capmock/journal", headers=ops).status_code == 200
    assert c.get(GET, headers={"Authorization": TILL1}).status_code == 200
    assert c.get(GET, headers=ops).status_code == 401  # the API keeps its own


def test_admin_auth_alone_protects_only_the_admin_endpoints(apps: list[Any]) -> None:
    c = make(apps, admin_auth="ops:s3cret")
    assert c.get(GET).status_code == 200
    assert c.get("/__capmock/journal").status_code == 401


def test_the_api_does_not_accept_the_typed_password(apps: list[Any]) -> None:
    """Only the admin endpoints take the browser's form; the API stays the platform's."""
    c = make(apps, auth="till1:123")
    assert c.get(GET, headers={"Authorization": TYPED}).status_code == 401
    assert c.get("/__capmock/openapi.json").status_code == 401
    assert c.get("/__capmock/openapi.json", headers={"Authorization": TYPED}).status_code == 200


def test_a_non_ascii_till_is_refused_not_a_crash(apps: list[Any]) -> None:
    header = "Basic " + base64.b64encode("tïll:123".encode()).decode()
    c = make(apps, auth="till1:123")
    answer = c.get(GET + "&format=xml", headers={"Authorization": header})
    assert answer.status_code == 401
    assert xml_to_data(answer.data)["response"]["status"]["code"] == "401"
    assert c.get("/__capmock/journal", headers={"Authorization": header}).status_code == 401


def test_health_stays_open(apps: list[Any]) -> None:
    """A container's health check needs no credentials and no Host configuration."""
    c = make(apps, auth="till1:123")
    assert c.get("/__capmock/health").status_code == 200
    assert c.get("/__capmock/health", headers={"Host": "capmock:8080"}).status_code == 200


def test_an_unknown_admin_path_needs_the_credentials_too(apps: list[Any]) -> None:
    c = make(apps, auth="till1:123")
    answer = c.get("/__capmock/nothing-here")
    refused(answer, 401)  # the admin's 401, which asks a browser for credentials
    assert "WWW-Authenticate" in answer.headers
    assert c.get("/__capmock/nothing-here", headers={"Authorization": TILL1}).status_code == 404


# --- cross-site writes ------------------------------------------------------------------

@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", None])
@pytest.mark.parametrize("path", ["/__capmock/sandbox/reset", "/__capmock/sandbox/import",
                                  "/__capmock/sandbox/load"])
def test_a_form_post_is_refused_even_with_credentials(
        apps: list[Any], path: str, content_type: str | None) -> None:
    """What an HTML form of another site (or a no-cors fetch) can send: the
    browser would attach the admin credentials it holds."""
    c = make(apps, mode="sandbox", auth="till1:123")
    before = c.get("/__capmock/sandbox/export", headers={"Authorization": TILL1}).data
    answer = c.post(path, data=EMPTY_FILE, content_type=content_type,
                    headers={"Authorization": TILL1})
    assert "X-Capmock-Admin" in refused(answer, 403)
    assert c.get("/__capmock/sandbox/export", headers={"Authorization": TILL1}).data == before


def test_a_form_post_to_approve_is_refused(apps: list[Any]) -> None:
    c = make(apps, mode="sandbox")
    answer = c.post("/__capmock/sandbox/identity_changes/1/approve",
                    content_type="application/x-www-form-urlencoded")
    refused(answer, 403)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/yaml", "application/vnd.x+json"])
def test_a_json_or_yaml_post_is_accepted(apps: list[Any], content_type: str) -> None:
    c = make(apps, mode="sandbox")
    answer = c.post("/__capmock/sandbox/import", data=EMPTY_FILE, content_type=content_type)
    assert answer.status_code == 200


# --- Origin -----------------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost.evil.example",
                                    "http://localhost:8081", "localhost"])
@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/__capmock/sandbox/import", EMPTY_FILE), ("GET", "/__capmock/sandbox/export", None),
    ("DELETE", "/__capmock/journal", None)])
def test_a_foreign_origin_is_refused(apps: list[Any], origin: str, method: str, path: str,
                                     body: str | None) -> None:
    c = make(apps, mode="sandbox")
    answer = c.open(path, method=method, data=body, content_type=JSON,
                    headers={"Origin": origin, **ADMIN})
    assert "Origin" in refused(answer, 403)


@pytest.mark.parametrize(("origin", "host"), [
    ("http://localhost", "localhost"), ("http://localhost:80", "localhost"),
    ("http://127.0.0.1:8080", "127.0.0.1:8080"), ("https://LOCALHOST:8443", "localhost:8443"),
    ("http://[::1]:8080", "[::1]:8080")])
def test_the_servers_own_origin_is_allowed(apps: list[Any], origin: str, host: str) -> None:
    c = make(apps, mode="sandbox")
    answer = c.post("/__capmock/sandbox/import", data=EMPTY_FILE, content_type=JSON,
                    headers={"Origin": origin, "Host": host})
    assert answer.status_code == 200, answer.data


def test_the_api_itself_still_serves_browsers_of_any_origin(apps: list[Any]) -> None:
    answer = make(apps).get(GET, headers={"Origin": "http://localhost:3000"})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


# --- Host -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_foreign_host_gets_400_in_the_envelope(apps: list[Any], fmt: str) -> None:
    answer = make(apps).get(f"{GET}&format={fmt}", headers={"Host": "rebound.evil.example"})
    assert answer.status_code == 400
    body = json.loads(answer.data) if fmt == "json" else xml_to_data(answer.data)
    status = body["response"]["status"]
    # a request-level error: its status line; the platform's JSON writes the code as a number
    assert status["code"] == (400 if fmt == "json" else "400")
    assert "rebound.evil.example" in status["message"] and "--allowed-hosts" in status["message"]
    assert answer.headers["X-Cap-Requestid"]


def test_a_foreign_host_gets_400_at_the_admin_endpoints(apps: list[Any]) -> None:
    answer = make(apps).get("/__capmock/journal", headers={"Host": "rebound.evil.example:8080"})
    assert "--allowed-hosts" in refused(answer, 400)


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080",
                                  "LOCALHOST.", "127.0.0.1"])
def test_loopback_names_are_accepted_on_a_loopback_address(apps: list[Any], host: str) -> None:
    assert make(apps).get(GET, headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(("settings", "host", "status"), [
    ({"allowed_hosts": "capmock,mock.test"}, "capmock:8080", 200),
    ({"allowed_hosts": "capmock,mock.test"}, "mock.test", 200),
    ({"allowed_hosts": "capmock"}, "other", 400),
    ({"allowed_hosts": "*"}, "anything.example", 200),
    ({"bound_host": "0.0.0.0"}, "10.1.2.3:8080", 200),  # an IP cannot be re-pointed
    ({"bound_host": "0.0.0.0"}, "[fd00::5]:8080", 200),
    ({"bound_host": "0.0.0.0"}, "localhost", 200),
    ({"bound_host": "0.0.0.0"}, "rebound.evil.example", 400),
    ({"bound_host": "192.0.2.7"}, "192.0.2.7:8080", 200),
    ({"bound_host": "192.0.2.7"}, "localhost", 400),
    ({"bound_host": "mock.internal"}, "mock.internal", 200),
])
def test_the_host_check_follows_the_bound_address_and_allowed_hosts(
        apps: list[Any], settings: dict[str, str], host: str, status: int) -> None:
    c = make(apps, **settings)
    assert c.get(GET, headers={"Host": host}).status_code == status
    assert c.get("/__capmock/openapi.json", headers={"Host": host}).status_code == status


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--allowed-hosts", "a, b c", "host names"), ("--allowed-hosts", "a,,b", "host names"),
    ("--allowed-hosts", "http://a/", "host names"), ("--admin-auth", "nocolon", "TILL:PASSWORD"),
    ("--journal-bytes", "100", "65536")])
def test_bad_access_options_are_usage_errors(option: str, value: str, says: str) -> None:
    result = CliRunner().invoke(serve_command, [option, value])
    assert result.exit_code == 2
    assert option in result.output and says in result.output
    assert "Traceback" not in result.output


# --- capmock serve, and the reference page in a browser -------------------------------

def status_of(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_capmock_serve_applies_the_rules() -> None:
    """Through granian, with 2 workers: the options reach every worker."""
    port = free_port()
    capmock = str(Path(sys.executable).with_name("capmock"))
    process = subprocess.Popen([capmock, "serve", "--port", str(port), "--no-access-log",
                                "--auth", "till1:123", "--workers", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert process.poll() is None, "capmock serve exited early"
            with suppress(OSError):
                if status_of(base + "/__capmock/health") == 200:
                    break
            time.sleep(0.05)
        assert status_of(base + "/__capmock/journal") == 401
        assert status_of(base + "/__capmock/journal", Authorization=TILL1) == 200
        assert status_of(base + GET, Authorization=TILL1) == 200
        assert status_of(base + GET, Authorization=TILL1, Host="rebound.evil.example") == 400
        assert status_of(base + GET, Authorization=TILL1, Host=f"localhost:{port}") == 200
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.slow
def test_the_reference_page_renders_for_an_authorised_browser(
        apps: list[Any], chromium: str, tmp_path: Path) -> None:
    """Opened with the admin credentials (as a browser does after its dialog,
    here given in the URL), the page fetches openapi.json with them."""
    create = make(apps, auth="till1:123")
    with serving(create.application) as url:
        page = url.replace("http://", "http://till1:123@") + "/__capmock/docs"
        body = html.fromstring(dump_dom(chromium, page, tmp_path / "profile")).find("body")
        refused = dump_dom(chromium, f"{url}/__capmock/docs", tmp_path / "other")
    assert body.get("data-error") is None, body.get("data-error")
    assert body.get("data-rendered") == str(len(declared_operations()))
    assert "data-rendered" not in refused  # without them: the admin's 401

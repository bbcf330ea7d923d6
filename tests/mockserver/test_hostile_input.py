"""The hostile-input catalogue (issue 12): every input is clean or refused,
bodies are bounded and never cut, and nothing a client sends can make this
or a later answer fail (FACTS 407) or leave the envelope.

Each test runs in JSON and XML where the answer's format matters, and in
replay and sandbox mode where both take the input. The rule itself lives in
capmock.openapi.clean; `test_accepted_text_always_reads_back` is its
property: whatever text is accepted through JSON reads back in both formats.

On the mock's defaults: the platform's wire (in JSON the request code is a number and
customers.customer an array) and HTTP status (an item-level failure is HTTP 200).
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servedmock import http, served
from werkzeug.exceptions import BadRequest, RequestHeaderFieldsTooLarge

from capmock.mockserver.sandbox import cli, transfer
from capmock.mockserver.serve import command as serve_command
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import clean
from capmock.openapi.codec import canonical, xml_to_data

FORMATS = ("json", "xml")
MODES = ("replay", "sandbox")
MEDIA = {"json": "application/json", "xml": "application/xml"}
MOBILE = "919845000111"
SANDBOX_FILE = {"format": "capmock-sandbox", "version": 1}

# admin writes name themselves (the admin guard refuses what a cross-site form could send)
ADMIN = {"X-Capmock-Admin": "1"}


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


def make_client(mode: str, **settings: Any) -> FlaskClient:
    if mode == "sandbox":
        settings.setdefault("store", ":memory:")
    return create_app(Settings(mode=mode, **settings)).test_client()


def close(c: FlaskClient) -> None:
    box = c.application.extensions["capmock"].sandbox
    if box is not None:
        box.store.close()


@pytest.fixture
def c(mode: str) -> Iterator[FlaskClient]:
    one = make_client(mode)
    yield one
    close(one)


@pytest.fixture
def box() -> Iterator[FlaskClient]:
    one = make_client("sandbox")
    yield one
    close(one)


def envelope(response: Any) -> dict[str, Any]:
    """response.status of an answer, read by its Content-Type (fails if it is no envelope)."""
    media = response.content_type
    assert media.startswith(("application/json", "application/xml")), response.data[:200]
    data = xml_to_data(response.data) if "xml" in media else json.loads(response.data)
    return data["response"]


def written(fmt: str, code: int) -> int | str:
    """A request-level code as `fmt` writes it: a number in the platform's JSON, text in XML."""
    return code if fmt == "json" else str(code)


def assert_refused(response: Any, fmt: str, *words: str, code: int = 400) -> str:
    """An envelope with request-level `code` in `fmt` whose message has every word."""
    assert response.status_code == code, response.data[:300]
    assert response.content_type.startswith(MEDIA[fmt])
    status = envelope(response)["status"]
    assert status["code"] == written(fmt, code)
    for word in words:
        assert word in status["message"], status["message"]
    return status["message"]


def add_json(c: FlaskClient, fmt: str, customer: dict[str, Any] | str) -> Any:
    """customer/add with a JSON body (a dict, or JSON text as it is), answer in `fmt`."""
    text = customer if isinstance(customer, str) else \
        json.dumps({"root": {"customer": customer}})  # ensure_ascii: \\uXXXX escapes
    return c.post(f"/v1.1/customer/add?format={fmt}", data=text.encode("utf-8", "surrogatepass"),
                  content_type="application/json")


def get_customer(c: FlaskClient, fmt: str, mobile: str = MOBILE) -> Any:
    return c.get(f"/v1.1/customer/get?mobile={mobile}&format={fmt}")


def only_customer(response: Any, fmt: str) -> dict[str, Any]:
    """The one customer of a customer/get answer: in JSON an array of one (the platform's
    wire), in XML the element."""
    node = envelope(response)["customers"]["customer"]
    if fmt == "json":
        assert isinstance(node, list) and len(node) == 1, node
        (node,) = node
    return node


def assert_item_failure(response: Any, fmt: str, item_code: str) -> None:
    """An item-level failure: HTTP 200 (the platform's policy), request code 500 in the body."""
    assert response.status_code == 200, response.data[:300]
    assert envelope(response)["status"]["code"] == written(fmt, 500)
    assert only_customer(response, fmt)["item_status"]["code"] == item_code


def assert_not_stored(c: FlaskClient, mobile: str = MOBILE) -> None:
    """customer/get in both formats answers (no 407) that nobody has the mobile."""
    for fmt in FORMATS:
        assert_item_failure(get_customer(c, fmt, mobile), fmt, "1012")


# --- text XML 1.0 cannot carry: refused at the door -----------------------------------

UNCARRIABLE = {"control": "a\x15b", "nul": "\x00", "form feed": "a\x0cb", "backspace": "\x08",
               "lone surrogate": "x\ud800",
               "U+FFFE": "a\ufffeb", "U+FFFF": "\uffff"}


@pytest.mark.parametrize("text", list(UNCARRIABLE.values()), ids=list(UNCARRIABLE))
def test_json_text_xml_cannot_carry_is_refused_naming_the_field(c: FlaskClient, fmt: str,
                                                                  mode: str, text: str) -> None:
    answer = add_json(c, fmt, {"mobile": MOBILE, "firstname": text})
    assert_refused(answer, fmt, "/root/customer/firstname", "not allowed in XML 1.0",
                   f"U+{ord(clean.BAD_XML_CHAR.search(text).group()):04X}")
    if mode == "sandbox":
        assert_not_stored(c)


def test_raw_u_fffe_in_a_json_body_is_refused(c: FlaskClient, fmt: str) -> None:
    raw = f'{{"root":{{"customer":{{"mobile":"{MOBILE}","lastname":"a\ufffe"}}}}}}'
    assert_refused(add_json(c, fmt, raw), fmt, "/root/customer/lastname", "U+FFFE")


def test_a_json_key_xml_cannot_carry_is_refused(c: FlaskClient, fmt: str) -> None:
    raw = f'{{"root":{{"customer":{{"mobile":"{MOBILE}","\\ud800x":"1"}}}}}}'
    assert_refused(add_json(c, fmt, raw), fmt, "/root/customer", "U+D800", "\\ud800x")


@pytest.mark.parametrize("text", ["a&#x15;b", "a\x15b", "&#xFFFE;"])
def test_xml_body_text_xml_cannot_carry_is_refused_naming_the_character(
        c: FlaskClient, fmt: str, text: str) -> None:
    body = f"<root><customer><mobile>{MOBILE}</mobile><firstname>{text}</firstname>" \
           "</customer></root>"
    answer = c.post(f"/v1.1/customer/add?format={fmt}", data=body.encode(),
                    content_type="application/xml")
    assert_refused(answer, fmt, "character not allowed in XML 1.0", "line 1")


@pytest.mark.parametrize("query", [f"mobile={MOBILE[:-1]}%15", f"mobile={MOBILE}&x%01=1",
                                   f"mobile={MOBILE}&__example=%1B"])
def test_query_text_xml_cannot_carry_is_refused_naming_the_parameter(
        c: FlaskClient, fmt: str, query: str) -> None:
    answer = c.get(f"/v1.1/customer/get?{query}&format={fmt}")
    assert_refused(answer, fmt, "query", "not allowed in XML 1.0")


def test_quoted_request_text_is_escaped_in_the_message(c: FlaskClient, fmt: str) -> None:
    """The 404 message quotes the path; a control character in it is escaped."""
    message = assert_refused(c.get(f"/v1.1/customer/nowhere%15?format={fmt}"), fmt,
                             code=404)
    assert "nowhere\\x15" in message and "\x15" not in message


# --- credentials ------------------------------------------------------------------------

def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


@pytest.mark.parametrize("header", [
    "Basic ñ",  # not base64 at all
    "Basic dGlsbDE6\u00e9",
    basic("tïll1:".encode() + hashlib.md5(b"123").hexdigest().encode()),  # UTF-8 till
], ids=["non-ascii token", "non-ascii tail", "utf-8 till"])
def test_non_ascii_basic_credentials_are_401(mode: str, fmt: str, header: str) -> None:
    c = make_client(mode, auth="till1:123")
    try:
        answer = c.get(f"/v1.1/customer/get?mobile=19889999999&format={fmt}",
                       headers={"Authorization": header})
        assert_refused(answer, fmt, code=401)
    finally:
        close(c)


def test_non_ascii_till_of_the_server_is_checked_too(fmt: str) -> None:
    c = make_client("replay", auth="tïll:123")
    good = basic("tïll:".encode() + hashlib.md5(b"123").hexdigest().encode())
    assert c.get(f"/v1.1/customer/get?mobile=19889999999&format={fmt}",
                 headers={"Authorization": good}).status_code == 200


# --- numbers ----------------------------------------------------------------------------

NUMBERS = {"4301 digits": "9" * 4301, "21 digits": "1" + "0" * 20, "negative 21": "-" + "9" * 21,
           "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e999": "1e999"}


@pytest.mark.parametrize("number", list(NUMBERS.values()), ids=list(NUMBERS))
def test_json_numbers_too_large_or_not_finite_are_400(c: FlaskClient, fmt: str, mode: str,
                                                       number: str) -> None:
    raw = f'{{"root":{{"customer":{{"mobile":"{MOBILE}","extra":{number}}}}}}}'
    assert_refused(add_json(c, fmt, raw), fmt, "/root/customer/extra")
    if mode == "sandbox":
        assert_not_stored(c)


def test_twenty_digits_are_still_a_number(c: FlaskClient) -> None:
    raw = f'{{"root":{{"customer":{{"mobile":"{MOBILE}","extra":{"9" * 20}}}}}}}'
    assert add_json(c, "json", raw).status_code == 200


def test_integer_query_parameter_past_twenty_digits_is_400(c: FlaskClient, fmt: str) -> None:
    answer = c.get(f"/v1.1/customer/transactions?mobile=44700900000&limit={'9' * 5000}"
                   f"&format={fmt}")
    assert_refused(answer, fmt, "limit", "20 digits")


def test_a_5000_digit_user_id_is_not_found(box: FlaskClient, fmt: str) -> None:
    answer = box.get(f"/v1.1/customer/get?user_id={'9' * 5000}&format={fmt}")
    assert_item_failure(answer, fmt, "1011")


# --- sandbox files: import, load, capmock seed ------------------------------------------

def sandbox_yaml(customer_lines: str) -> str:
    return f"format: capmock-sandbox\nversion: 1\ncustomers:\n{customer_lines}"


HOSTILE_FILES = {
    "yaml .nan": sandbox_yaml(f"- mobile: '{MOBILE}'\n  firstname: .nan\n"),
    "yaml .inf": sandbox_yaml(f"- mobile: '{MOBILE}'\n  lifetime_points: -.inf\n"),
    "yaml 1.0e+999": sandbox_yaml(f"- mobile: '{MOBILE}'\n  lifetime_points: 1.0e+999\n"),
    "yaml 5000 digits": sandbox_yaml(f"- mobile: '{MOBILE}'\n  lifetime_points: {'9' * 5000}\n"),
    "yaml !!binary": sandbox_yaml(f"- mobile: '{MOBILE}'\n  firstname: !!binary aGVsbG8=\n"),
    "yaml !!set": sandbox_yaml(f"- mobile: '{MOBILE}'\n  tags: !!set {{a: null}}\n"),
    "yaml control": sandbox_yaml(f"- mobile: '{MOBILE}'\n  firstname: \"a\\x15b\"\n"),
    "yaml alias": sandbox_yaml(f"- {{mobile: '{MOBILE}', tags: &t [a]}}\n"
                               "- {mobile: '919845000112', tags: *t}\n"),
    "json NaN": json.dumps({**SANDBOX_FILE, "customers": [{"mobile": MOBILE,
                                                            "firstname": float("nan")}]}),
    "json key": json.dumps({**SANDBOX_FILE, "customers": [{"mobile": MOBILE, "a b": "1"}]}),
    "json nested list": json.dumps({**SANDBOX_FILE, "customers": [{"mobile": MOBILE,
                                                                    "firstname": [["x"]]}]}),
}
# Refused before issue 12 already (safe loader, YAML's escapes, the record id
# check), and still: kept as guards of the same rule.
ALREADY_REFUSED = {
    "yaml !!python": sandbox_yaml("- mobile: !!python/object/apply:os.getpid []\n"),
    "yaml local tag": sandbox_yaml("- mobile: !phone '919845000111'\n"),
    "json surrogate": json.dumps({**SANDBOX_FILE, "customers": [{"mobile": MOBILE,
                                                                  "firstname": "\ud800"}]}),
    "json record id 0": json.dumps({**SANDBOX_FILE, "customers": [{
        "mobile": MOBILE, "records": {"notes": [{"_record_id": 0, "description": "d"}]}}]}),
}


def exported(c: FlaskClient) -> dict[str, Any]:
    """The sandbox's export, read as strict JSON (NaN or Infinity fail)."""
    answer = c.get("/__capmock/sandbox/export")
    assert answer.status_code == 200

    def refuse(name: str) -> None:
        raise AssertionError(f"the export wrote {name}, which is not JSON")
    return json.loads(answer.data, parse_constant=refuse)


@pytest.mark.parametrize("endpoint", ["import", "load"])
@pytest.mark.parametrize("text", [*HOSTILE_FILES.values(), *ALREADY_REFUSED.values()],
                         ids=[*HOSTILE_FILES, *ALREADY_REFUSED])
def test_sandbox_file_beyond_the_rule_is_400_and_changes_nothing(
        box: FlaskClient, endpoint: str, text: str) -> None:
    before = exported(box)
    answer = box.post(f"/__capmock/sandbox/{endpoint}", headers=ADMIN,
                      data=text.encode("utf-8", "surrogatepass"))
    assert answer.status_code == 400, answer.data[:300]
    assert json.loads(answer.data)["error"].startswith("not a loadable sandbox file: ")
    assert exported(box) == before
    assert_not_stored(box)


def alias_bomb() -> str:
    """The issue's shape: nine levels of nine aliases inside a customer (9**9 leaves)."""
    lines = ['x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 9):
        lines.append(f"x{level}: &x{level} [" + ",".join([f"*x{level - 1}"] * 9) + "]")
    body = "\n".join("    " + line for line in lines)
    return sandbox_yaml(f"- mobile: '{MOBILE}'\n  custom:\n{body}\n")


def test_alias_bomb_is_refused_fast_before_expansion(box: FlaskClient) -> None:
    bomb = alias_bomb()
    assert len(bomb) < 1000
    started = time.perf_counter()
    answer = box.post("/__capmock/sandbox/load", headers=ADMIN, data=bomb)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 400 and "alias" in json.loads(answer.data)["error"]
    assert elapsed < 1.5, f"{elapsed:.2f} s: the aliases were expanded"  # the issue: 4.4 s
    assert_not_stored(box)


def test_capmock_seed_refuses_the_alias_bomb(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    result = CliRunner().invoke(cli.command, [str(bomb), "--store",
                                              str(tmp_path / "s.sqlite")])
    assert result.exit_code != 0 and "alias" in result.output
    assert "nothing was loaded" in result.output


def test_a_plain_yaml_date_is_text(box: FlaskClient, fmt: str) -> None:
    """YAML's core types only: 2014-12-10 04:46:38 is text, not a timestamp."""
    answer = box.post("/__capmock/sandbox/load", headers=ADMIN, data=sandbox_yaml(
        f"- mobile: '{MOBILE}'\n  registered_on: 2014-12-10 04:46:38\n"))
    assert answer.status_code == 200, answer.data
    item = only_customer(get_customer(box, fmt), fmt)
    assert item["registered_on"] == "2014-12-10 04:46:38"


def test_a_yaml_file_json_does_not_parse_is_still_read() -> None:
    """JSON first, else YAML: a flow-style YAML file is a sandbox file too."""
    data = transfer.parse("{format: capmock-sandbox, version: 1, customers: []}")
    assert data == {**SANDBOX_FILE, "customers": []}
    assert yaml.safe_load(transfer.dumps(data)) == data


# --- bodies -----------------------------------------------------------------------------

def chunked_post(c: FlaskClient, path: str, body: bytes) -> Any:
    """A POST with Transfer-Encoding: chunked, as granian hands it over: no
    Content-Length (the test client would set one), wsgi.input_terminated."""
    return c.post(path, input_stream=io.BytesIO(body),
                  headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                  environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})


def big_add(size: int) -> bytes:
    return json.dumps({"root": {"customer": {"mobile": MOBILE, "firstname": "x" * size}}}).encode()


def test_chunked_body_over_the_limit_is_refused_not_cut(c: FlaskClient, mode: str) -> None:
    answer = chunked_post(c, "/v1.1/customer/add", big_add(2_000_000))
    assert_refused(answer, "json", "larger than 1048576 bytes")
    if mode == "sandbox":
        assert_not_stored(c)


def test_chunked_body_within_the_limit_is_read_whole(c: FlaskClient) -> None:
    answer = chunked_post(c, "/v1.1/customer/add?format=json", big_add(1000))
    assert answer.status_code == 200, answer.data[:300]


def test_import_and_load_take_the_import_limit_not_the_request_limit() -> None:
    c = make_client("sandbox", max_body_bytes=1000, import_limit=100_000)
    try:
        export = c.get("/__capmock/sandbox/export").data
        assert 1000 < len(export) < 100_000
        assert c.post("/__capmock/sandbox/import", headers=ADMIN, data=export).status_code == 200
    finally:
        close(c)
    c = make_client("sandbox", import_limit=1000)
    try:
        export = c.get("/__capmock/sandbox/export").data
        answer = c.post("/__capmock/sandbox/load", headers=ADMIN, data=export)
        assert answer.status_code == 400
        assert "larger than 1000 bytes (--import-limit)" in json.loads(answer.data)["error"]
    finally:
        close(c)


def test_serve_refuses_an_import_limit_out_of_range() -> None:
    result = CliRunner().invoke(serve_command, ["--import-limit", "0"])
    assert result.exit_code == 2 and "--import-limit" in result.output


@pytest.mark.parametrize(("query", "headers"), [
    ("__delay=70000", {}), ("", {"Prefer": "delay=60001"}), ("__delay=%C2%B2", {}),
    ("__delay=" + "9" * 5000, {})], ids=["70000", "prefer 60001", "superscript", "5000 digits"])
def test_invalid_delay_is_refused_before_any_sleep(c: FlaskClient, fmt: str, query: str,
                                                   headers: dict[str, str]) -> None:
    started = time.perf_counter()
    answer = c.get(f"/v1.1/customer/get?mobile=19889999999&format={fmt}&{query}",
                   headers=headers)
    assert time.perf_counter() - started < 5  # the issue: refused after sleeping 60 s
    assert_refused(answer, fmt, "delay")


# --- Werkzeug's own error pages answer in the envelope ---------------------------------

@pytest.mark.parametrize("path", ["/v1.1/customer/get%0a?mobile=19889999999",
                                  "/v1.1/customer/get%0d%0aX-Injected:%201",
                                  "/__capmock/sandbox%0a/export"])
def test_a_control_character_in_the_path_gets_the_envelope_404(c: FlaskClient, fmt: str,
                                                                path: str) -> None:
    joiner = "&" if "?" in path else "?"
    assert_refused(c.get(f"{path}{joiner}format={fmt}"), fmt, code=404)


@pytest.mark.parametrize("error", [BadRequest(), RequestHeaderFieldsTooLarge()],
                         ids=["400", "431"])
def test_werkzeug_refusals_answer_in_the_envelope(mode: str, fmt: str, error: Exception) -> None:
    """What Werkzeug raises while parsing a request is answered as the pipeline
    answers: the envelope in the asked format, never its HTML page."""
    app = create_app(Settings(mode=mode, store=":memory:" if mode == "sandbox" else None))
    try:
        with app.test_request_context(f"/v1.1/customer/get?format={fmt}"):
            response = app.make_response(app.handle_user_exception(error))
        assert_refused(response, fmt)
    finally:
        if mode == "sandbox":
            app.extensions["capmock"].sandbox.store.close()


# --- the property: accepted text always reads back --------------------------------------

PROPERTY_BOX = make_client("sandbox")
SERIALS = itertools.count(7_000_000_000)
ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=()) |
                   st.sampled_from(["\x00", "\x15", "\ud800", "\udfff", "\ufffe", "\uffff",
                                    "\t", "\r", "\n", "\x7f", "\x85", "\U0010ffff"]),
                   max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=ANY_TEXT, last=ANY_TEXT, field=ANY_TEXT)
def test_accepted_text_always_reads_back(first: str, last: str, field: str) -> None:
    """Text stored through JSON (profile and a custom field) reads back in XML
    and JSON without a 407; text refused is exactly what clean says XML 1.0
    cannot carry, refused with a renderable 400."""
    mobile = f"91{next(SERIALS)}"  # a new customer each time (add updates a known one)
    customer = {"mobile": mobile, "firstname": first, "lastname": last,
                "custom_fields": {"field": {"name": "favourite", "value": field}}}
    answer = add_json(PROPERTY_BOX, "xml", customer)
    bad = [t for t in (first, last, field) if clean.text_problem(t)]
    if bad:
        assert_refused(answer, "xml", "not allowed in XML 1.0")
        return
    assert answer.status_code == 200, answer.data[:300]
    shown = {}
    for fmt in FORMATS:
        read = get_customer(PROPERTY_BOX, fmt, mobile)
        assert read.status_code == 200, read.data[:300]
        item = only_customer(read, fmt)
        shown[fmt] = canonical({k: item.get(k) for k in ("firstname", "lastname")})
    assert shown["json"] == shown["xml"]
    assert shown["json"] == canonical({"firstname": first, "lastname": last})


# --- over real HTTP: granian's chunked bodies, an export larger than a request ---------

@pytest.mark.slow
def test_over_http_chunked_bodies_and_a_large_export_reimport(tmp_path: Path) -> None:
    store = tmp_path / "sandbox.sqlite"
    customers = [{"mobile": f"9198{n:08d}", "firstname": "Asha " + "x" * 200}
                 for n in range(6000)]
    with served("--mode", "sandbox", "--store", str(store), log=tmp_path / "serve.log") as base:
        for start in range(0, len(customers), 1500):  # each load is under 1 MiB
            part = {**SANDBOX_FILE, "customers": customers[start:start + 1500]}
            loaded = http(f"{base}/__capmock/sandbox/load", json.dumps(part).encode(), ADMIN)
            assert loaded[0] == 200
        status, export = http(f"{base}/__capmock/sandbox/export")
        assert status == 200 and len(export) > 1_048_576
        status, answer = http(f"{base}/__capmock/sandbox/import", export, ADMIN)
        assert status == 200, answer[:300]
        assert json.loads(answer)["customers"] == len(json.loads(export)["customers"])
        assert http(f"{base}/__capmock/sandbox/export")[1] == export
        for _ in range(3):  # the client, still sending, gets the answer (no reset)
            status, answer = chunked_http(base, big_add(2_000_000))
            assert status == 400 and b"larger than 1048576 bytes" in answer
            status, answer = http(f"{base}/v1.1/customer/add", big_add(3_000_000),
                                  {"Content-Type": "application/json"})
            assert status == 400 and b"larger than 1048576 bytes" in answer
        assert chunked_http(base, big_add(1000))[0] == 200


def chunked_http(base: str, body: bytes) -> tuple[int, bytes]:
    """POST customer/add in 64 KiB chunks (http.client sends what it is told)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", "/v1.1/customer/add?format=json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader("Content-Type", "application/json")
        connection.endheaders()
        for start in range(0, len(body), 65_536):
            piece = body[start:start + 65_536]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()

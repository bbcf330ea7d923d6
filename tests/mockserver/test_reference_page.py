"""The API reference page (/__capmock/docs), in a real browser driven as a
person would (tests/browser.py: clicks and typing over the DevTools pipe),
served by the real mock: every operation renders with its field trees, item
codes and a "Try it" panel, a tree opens, and a request sent from a panel
shows the mock's own answer, JSON and XML. It loads nothing from the network
but the mock it came from. The mock runs on its defaults (the platform's wire and HTTP
status) but where a test is about the document's form (DOCUMENT_FORM)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from browser import Browser, Page
from lxml import html
from mockhelpers import DOCUMENT_FORM
from serving import serving
from sources import declared_operations

from capmock import fixtures
from capmock.mockserver import faults
from capmock.mockserver.reference import reference_html
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import codes, contract

MEDIA = {"json": "application/json", "xml": "application/xml"}
PASSWORD = "päss-wörd"  # not ASCII: the page's MD5 must hash the UTF-8 bytes, as the mock does


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with serving(create_app(Settings())) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    started = Browser(chromium, tmp_path_factory.mktemp("chromium"))
    try:
        yield started
    finally:
        started.close()


def open_docs(browser: Browser, base_url: str) -> Page:
    page = browser.open(f"{base_url}/__capmock/docs")
    page.wait_for("document.body?.dataset.rendered || document.body?.dataset.error")
    assert page.evaluate("document.body.dataset.error") is None
    return page


@pytest.fixture
def page(browser: Browser, mock_url: str) -> Iterator[Page]:
    opened = open_docs(browser, mock_url)
    yield opened
    assert opened.errors() == []
    assert all(url.startswith(f"{mock_url}/") for url in opened.requested_urls()), \
        opened.requested_urls()


def send(page: Page, operation: str) -> None:
    """Press the panel's Send button and wait for the answer."""
    answer = f"document.querySelector('#{operation} .answer')"
    page.evaluate(f"{answer}.dataset.state = ''")
    page.click(f"#{operation} details.try button[type=submit]")
    page.wait_for(f"['done', 'error'].includes({answer}.dataset.state)")
    assert page.evaluate(f"{answer}.dataset.state") == "done", page.text(f"#{operation} .answer")


def answer(page: Page, operation: str, part: str) -> str:
    return str(page.evaluate(
        f"document.querySelector('#{operation} .answer {part}').textContent"))


def direct(url: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, bytes]:
    """The same request sent without the browser: what the mock answers."""
    request = urllib.request.Request(url, data=body, headers=headers,
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.slow
def test_browser_renders_every_operation(page: Page) -> None:
    dom = html.fromstring(page.evaluate("document.documentElement.outerHTML"))
    operations = contract.operations()
    assert sorted(operations) == sorted(declared_operations())
    assert page.evaluate("document.body.dataset.rendered") == str(len(operations))
    for op in operations.values():
        found = dom.xpath("//section[@id=$id]", id=op.id)
        assert len(found) == 1, op.id
        section = found[0]
        assert "operation" in section.get("class", "").split(), op.id
        assert op.path in section.xpath("string(.//h2)"), op.id
        assert dom.xpath("//nav//a[@href=$href]", href=f"#{op.id}"), op.id
        # a field tree for every body: the request's, and the answer's under 200
        trees = {t.get("data-schema") for t in section.xpath(".//details[@class='tree']")}
        assert set(op.body_schemas.values()) | {"ErrorEnvelopeBody"} <= trees, op.id
        if "request" in op.body_schemas:
            assert section.xpath(".//details[@class='tree']//*[@data-path='root']"), op.id
        # the item codes with the message a response carries
        table = codes.codes_for(op.id)
        rows = {int(r.get("data-code")): r.xpath("string(td[@class='message'])")
                for r in section.xpath(".//table[@class='codes']/tbody/tr")}
        assert rows == {code: entry.wire_message for code, entry in table.items()}, op.id
        assert section.xpath(".//details[@class='try']//select[@name='code']"), op.id
    request_codes = dom.xpath("//div[@id='request-codes']//tr[@data-code]")
    assert {int(r.get("data-code")) for r in request_codes} == set(codes.request_codes())
    # examples are rendered as text: XML stays XML, not parsed into elements
    pres = [pre.text_content() for pre in dom.xpath("//section[@id='customer_add']//pre")]
    assert any(text.lstrip().startswith("<?xml") for text in pres)
    assert any(text.lstrip().startswith("{") for text in pres)
    # the controls are documented on the page
    controls = dom.xpath("string(//details[@id='controls'])")
    for control in ("Prefer: code=", "Prefer: item=", "Prefer: example=", "Prefer: delay=",
                    "__code=", "__item=", "__example=", "__delay=", "format=json",
                    "Prefer: fault=", "__fault=", *faults.kinds()):
        assert control in controls, control


@pytest.mark.slow
def test_server_url_is_the_one_that_served_the_page(page: Page, mock_url: str) -> None:
    assert not mock_url.endswith(":8080")
    assert page.text("#base-url") == mock_url
    assert page.text("#mode") == "mode replay"
    everything = page.evaluate("document.querySelector('main').textContent")
    assert "127.0.0.1:8080" not in everything
    assert f"{mock_url}/v1.1/customer/get?" in page.evaluate(
        "document.querySelector('#customer_get details.try .url').textContent")
    assert f"'{mock_url}/v1.1/customer/get?mobile=19889999999'" in page.evaluate(
        "document.querySelector('#customer_get .curl').textContent")


@pytest.mark.slow
def test_field_tree_opens_and_shows_types_and_patterns(page: Page) -> None:
    tree = "#customer_get [data-status='200'] details.tree"
    mobile = f"{tree} [data-path='response.customers.customer.mobile']"
    assert not page.visible(mobile)
    page.click(f"{tree} > summary")
    page.click(f"{tree} [data-path='response.customers'] > summary")
    page.click(f"{tree} [data-path='response.customers.customer'] > summary")
    assert page.visible(mobile)
    pattern = contract.spec()["components"]["schemas"]["mobile"]["pattern"]
    shown = page.text(mobile).split("\n")
    assert shown[:2] == ["mobile", "string"]
    assert f"pattern {pattern}" in shown
    assert "optional, may be empty" in shown
    assert "Mobile number with country code, digits only." in shown
    customer = page.text(f"{tree} [data-path='response.customers.customer'] > summary")
    assert "object or array of objects" in customer
    status = page.text(f"{tree} [data-path='response.status'] > summary")
    assert "required" in status.split("\n")
    # one tree, two notations: the toggle shows the XML element names
    json_sample = "#customer_get [data-status='200'] .media[data-media-type='application/json']"
    xml_sample = "#customer_get [data-status='200'] .media[data-media-type='application/xml']"
    assert page.visible(json_sample) and not page.visible(xml_sample)
    page.click("label:has(#fmt-xml)")
    assert page.text(mobile).split("\n")[:2] == ["<mobile>", "text element"]
    assert "repeated element" in page.text(f"{tree} [data-path='response.customers.customer']")
    assert page.visible(xml_sample) and not page.visible(json_sample)
    assert "customer_get.response.xsd" in page.text(f"{tree} > summary")


def platform_sample(operation: str, example: str = "default") -> object:
    """The documented JSON sample as the mock's default (platform) wire writes it."""
    sample = json.loads(fixtures.find(operation, example, "response", "json").read_text())
    return contract.render(operation, "response", sample, "platform")


@pytest.mark.slow
def test_try_it_shows_the_documented_sample(page: Page, mock_url: str) -> None:
    page.click("#customer_get details.try > summary")
    send(page, "customer_get")
    assert answer(page, "customer_get", ".answer-status").startswith("200 OK")
    assert answer(page, "customer_get", ".content-type") == "application/json; charset=utf-8"
    assert re.fullmatch(r"[0-9a-f]{16,}", answer(page, "customer_get", ".request-id"))
    assert answer(page, "customer_get", ".request-code") == "200"
    shown = json.loads(answer(page, "customer_get", "pre.answer-body"))
    assert shown == platform_sample("customer_get")
    _, body = direct(f"{mock_url}/v1.1/customer/get?mobile=19889999999", {})
    assert shown == json.loads(body)


@pytest.mark.slow
def test_try_it_on_the_document_form_shows_the_sample_s_text(browser: Browser) -> None:
    # about the document's form: the answer shown is the sample file's text
    with serving(create_app(Settings(**DOCUMENT_FORM))) as url:
        page = open_docs(browser, url)
        page.click("#customer_get details.try > summary")
        send(page, "customer_get")
        assert answer(page, "customer_get", ".answer-status").startswith("200 OK")
        sample = fixtures.find("customer_get", "default", "response", "json").read_text()
        assert answer(page, "customer_get", "pre.answer-body") == sample
        assert page.errors() == []


@pytest.mark.slow
def test_try_it_forces_a_code_in_xml(page: Page, mock_url: str) -> None:
    op = "customer_get"
    page.click(f"#{op} details.try > summary")
    page.choose(f"#{op} details.try select[name=format]", "xml")
    page.choose(f"#{op} details.try select[name=code]", "1012")
    assert "-H 'Prefer: code=1012'" in page.text(f"#{op} .curl")
    send(page, op)
    # an item-level failure: HTTP 200 on the platform's policy, code 500 in the body
    assert answer(page, op, ".answer-status").startswith("200 ")
    assert answer(page, op, ".content-type") == "application/xml; charset=utf-8"
    assert answer(page, op, ".request-code") == "500"
    assert answer(page, op, ".item-codes") == "1012"
    status, body = direct(f"{mock_url}/v1.1/customer/get?mobile=19889999999",
                          {"Accept": MEDIA["xml"], "Prefer": "code=1012"})
    assert status == 200
    assert answer(page, op, "pre.answer-body") == body.decode("utf-8")
    assert codes.item_code(op, 1012).wire_message in body.decode("utf-8")


@pytest.mark.slow
def test_try_it_posts_the_sample_body_and_fails_one_item(page: Page, mock_url: str) -> None:
    op = "customer_add"
    page.click(f"#{op} details.try > summary")
    page.choose(f"#{op} details.try select[name=format]", "xml")
    sample = fixtures.find(op, "default", "request", "xml").read_text()
    assert page.evaluate(f"document.querySelector('#{op} textarea[name=body]').value") == sample
    page.choose(f"#{op} details.try select[name=code]", "1001")
    page.type(f"#{op} details.try input[name=item]", "2")
    assert "-H 'Prefer: code=1001, item=2'" in page.text(f"#{op} .curl")
    send(page, op)
    # a partial failure is item-level: HTTP 200, code 201 in the body
    assert answer(page, op, ".answer-status").startswith("200 ")
    assert answer(page, op, ".request-code") == "201"
    assert answer(page, op, ".item-codes") == "1000, 1001"
    status, body = direct(f"{mock_url}/v1.1/customer/add",
                          {"Accept": MEDIA["xml"], "Content-Type": MEDIA["xml"],
                           "Prefer": "code=1001, item=2"}, sample.encode("utf-8"))
    assert status == 200
    assert answer(page, op, "pre.answer-body") == body.decode("utf-8")


@pytest.mark.slow
def test_try_it_picks_another_documented_example(page: Page) -> None:
    op = "customer_referrals_add"
    page.click(f"#{op} details.try > summary")
    page.choose(f"#{op} details.try select[name=example]", "invitees_by_type")
    assert "-H 'Prefer: example=invitees_by_type'" in page.text(f"#{op} .curl")
    send(page, op)
    assert answer(page, op, ".answer-status").startswith("200 OK")
    shown = json.loads(answer(page, op, "pre.answer-body"))
    assert shown == platform_sample(op, "invitees_by_type")


@pytest.mark.slow
def test_try_it_sends_the_platforms_basic_credentials(browser: Browser) -> None:
    # the page itself is behind admin credentials of its own (opened with them in
    # the URL, as a partner would), so the API's 401 below is the panel's doing
    settings = Settings(auth=f"till1:{PASSWORD}", admin_auth="docs:reader")
    with serving(create_app(settings)) as url:
        page = open_docs(browser, url.replace("http://", "http://docs:reader@", 1))
        op = "customer_get"
        page.click(f"#{op} details.try > summary")
        send(page, op)
        assert answer(page, op, ".answer-status").startswith("401 ")
        page.click("#auth > summary")
        page.type("#auth-till", "till1")
        page.type("#auth-password", PASSWORD)
        send(page, op)
        assert answer(page, op, ".answer-status").startswith("200 OK")
        assert page.errors() == []


_EXTERNAL = re.compile(
    r"""<script[^>]*\bsrc\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|<link[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//"""
    r"""|url\(\s*["']?\s*(?:https?:)?//"""
    r"""|\bfetch\(\s*["'](?:https?:)?//""",
    re.IGNORECASE,
)


def test_page_loads_nothing_from_the_network() -> None:
    page = reference_html().decode("utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert not _EXTERNAL.findall(page)
    # the document comes from a relative URL, so the page works under any prefix
    assert 'withoutCredentials("openapi.json")' in page
    assert reference_html() is reference_html()
    assert len(page.encode("utf-8")) < 64 * 1024  # package data: kept lean


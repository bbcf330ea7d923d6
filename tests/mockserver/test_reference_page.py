"""The API reference page (/__capmock/docs) renders every operation in a real
browser, and loads nothing from the network but openapi.json next to it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import dump_dom
from flask import Flask, Response
from lxml import html
from serving import serving

from capmock.mockserver.reference import reference_html
from capmock.openapi import contract

REPO = Path(__file__).resolve().parents[2]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _operations() -> dict[str, str]:
    """operationId -> path, from the document."""
    return {op["operationId"]: path
            for path, item in contract.spec()["paths"].items()
            for method, op in item.items() if method in METHODS}


def _app() -> Flask:
    app = Flask("capmock-reference-test")
    spec = json.dumps(contract.spec())

    @app.get("/__capmock/docs")
    def docs() -> Response:
        return Response(reference_html(), content_type="text/html; charset=utf-8")

    @app.get("/__capmock/openapi.json")
    def openapi() -> Response:
        return Response(spec, content_type="application/json")

    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(_app()) as url:
        yield url


@pytest.mark.slow
def test_browser_renders_every_operation(chromium: str, base_url: str, tmp_path: Path) -> None:
    dom = dump_dom(chromium, f"{base_url}/__capmock/docs", tmp_path / "profile")
    page = html.fromstring(dom)
    body = page.find("body")
    operations = _operations()
    assert len(operations) == 19
    assert body.get("data-error") is None, body.get("data-error")
    assert body.get("data-rendered") == "19"
    assert 'data-rendered="19"' in dom
    for operation_id, path in operations.items():
        found = page.xpath("//section[@id=$id]", id=operation_id)
        assert len(found) == 1, operation_id
        section = found[0]
        assert "operation" in section.get("class", "").split(), operation_id
        assert path in section.xpath("string(.//h2)"), (operation_id, path)
        # the table of contents links to it
        assert page.xpath("//nav//a[@href=$href]", href=f"#{operation_id}"), operation_id
    # examples are rendered as text: XML stays XML, not parsed into elements
    customer_add = page.xpath("//section[@id='customer_add']")[0]
    pres = [pre.text_content() for pre in customer_add.iter("pre")]
    assert any(text.lstrip().startswith("<?xml") for text in pres)
    assert any(text.lstrip().startswith("{") for text in pres)


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
    assert 'new URL("openapi.json", location.href)' in page
    assert reference_html() is reference_html()

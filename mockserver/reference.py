"""The API reference page the mock serves at /__capmock/docs.

One self-contained HTML file (package data, static/reference.html): inline CSS
and a vanilla-JS script that fetches the OpenAPI document from the relative
URL `openapi.json` and renders every operation: parameters, an expandable
field tree per body (one tree for both formats, with a CSS-only JSON/XML
toggle: the XML is the same model, element names = property names), the
samples, the item codes with their messages (x-capmock-item-codes), the mock's
controls, and a "Try it" panel per operation that sends a request with fetch()
to the mock that served the page (its address comes from the page's own URL).
Nothing is loaded from anywhere but that mock, so the page works offline.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

CONTENT_TYPE = "text/html; charset=utf-8"


@cache
def reference_html() -> bytes:
    """The reference page, as served (UTF-8 HTML)."""
    page = resources.files("capmock.mockserver").joinpath("static/reference.html")
    return page.read_bytes()

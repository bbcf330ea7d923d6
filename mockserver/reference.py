"""The API reference page the mock serves at /__capmock/docs.

One self-contained HTML file (package data, static/reference.html): inline CSS
and a small vanilla-JS script that fetches the OpenAPI document from the
relative URL `openapi.json` and renders every operation. Nothing is loaded from
the network beyond that document, so the page works offline.
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

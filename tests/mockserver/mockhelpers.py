"""Shared helpers of the mock server tests (imported by module name)."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from capmock import fixtures
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import contract

MEDIA = {"json": "application/json", "xml": "application/xml"}

# The mock's form before issue 14: the document's JSON (the samples' string codes, one item
# as an object) and the mirror HTTP status. The defaults are the platform's (wire.yaml);
# only tests about the document's form ask for this one, with client(**DOCUMENT_FORM).
DOCUMENT_FORM: dict[str, Any] = {"wire": "document", "http_status": "mirror"}


def client(**settings: Any) -> FlaskClient:
    """A test client of the mock on its defaults (platform wire and HTTP status) but for
    `settings`."""
    return create_app(Settings(**settings)).test_client()


def documented_path(operation: str) -> str:
    """Path and query of the operation's documented request URL."""
    sample = fixtures.find(operation, "default", "request", "url")
    return sample.read_text().splitlines()[0].split(" ", 1)[1]


def without_format(path: str) -> str:
    base, _, query = path.partition("?")
    kept = [p for p in query.split("&") if p and not p.startswith("format=")]
    return base + ("?" + "&".join(kept) if kept else "")


def call(c: FlaskClient, operation: str, fmt: str, body_fmt: str | None = None,
         extra: str = "", headers: dict[str, str] | None = None) -> Any:
    """Send the documented request of an operation, answer wanted in `fmt`."""
    op = contract.operations()[operation]
    path = without_format(documented_path(operation))
    path += ("&" if "?" in path else "?") + f"format={fmt}" + extra
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if op.method == "POST":
        body_fmt = body_fmt or fmt
        kwargs["data"] = fixtures.find(operation, "default", "request", body_fmt).read_bytes()
        kwargs["content_type"] = MEDIA[body_fmt]
    return c.open(path, method=op.method, **kwargs)

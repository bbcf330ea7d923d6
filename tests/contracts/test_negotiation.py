"""One judge of negotiation: the mock, the validation proxy and the suite's
checks read `format=`, Accept and Content-Type through
capmock.openapi.negotiation, so for every row of the table all three agree
on the format a request asked for (None: it asked for none, the mock's
default applies)."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl

import pytest
from flask import Flask

from capmock.contracts import checks
from capmock.mockserver.proxy import server as proxy
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import negotiation

# (query string, Accept, the format asked for)
TABLE = [
    ("", "", None),
    ("", "application/json", "json"),
    ("", "application/xml", "xml"),
    ("", "text/xml", "xml"),
    ("", "application/vnd.cap+xml", "xml"),
    ("", "application/json, application/xml", "json"),  # equal q: the first listed
    ("", "application/xml, application/json", "xml"),
    ("", "application/xml;q=0.5, application/json", "json"),
    ("", "application/json;q=0.4, application/xml;q=0.9", "xml"),
    ("", "text/html, application/xml;q=0.9, */*;q=0.8", "xml"),
    ("", "*/*", None),
    ("", "application/json;q=0", "xml"),  # JSON excluded, XML the only one left
    ("", "application/xml;q=0, application/json;q=0", None),
    ("", "application/json;q=abc", "json"),  # an unreadable q counts as 1
    ("format=xml", "application/json", "xml"),  # format= wins
    ("format=JSON", "application/xml", "json"),  # its value in any case
    ("format=json&format=xml", "", "json"),  # the first one
    ("format=yaml", "application/xml", "xml"),  # a bad value: the 400 follows Accept
    ("Format=xml", "", None),  # the parameter's name is format, lower case
]


@pytest.fixture(scope="module")
def mock() -> dict[str, Flask]:
    """The mock with each server default, to tell "asked for JSON" from "the default"."""
    return {fmt: create_app(Settings(default_format=fmt)) for fmt in ("json", "xml")}


def mock_answer(apps: dict[str, Flask], query: str, accept: str) -> str | None:
    """The format the mock answered in; None when it followed its default."""
    headers = {"Accept": accept} if accept else {}
    path = "/v1.1/customer/get?mobile=19889999999" + (f"&{query}" if query else "")
    formats = {negotiation.content_format(app.test_client().get(path, headers=headers)
                                          .headers["Content-Type"]) for app in apps.values()}
    return formats.pop() if len(formats) == 1 else None


def suite_view(query: str, accept: str) -> str | None:
    """As schemathesis hands a case to the checks: a repeated parameter is a list."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        values.setdefault(name, []).append(value)
    case = SimpleNamespace(query={k: v[0] if len(v) == 1 else v for k, v in values.items()},
                           headers={"Accept": accept} if accept else {})
    return checks.asked_format(case)


def proxy_view(query: str, accept: str) -> str | None:
    incoming = proxy.Exchange(headers=[("Accept", accept)] if accept else [], body=b"",
                              method="GET", path="/v1.1/customer/get", query_string=query)
    asked = proxy.asked_format(incoming)
    return asked[0] if asked else None


@pytest.mark.parametrize(("query", "accept", "expected"), TABLE)
def test_mock_proxy_and_suite_agree(mock: dict[str, Flask], query: str, accept: str,
                                    expected: str | None) -> None:
    assert negotiation.asked_format(parse_qsl(query), accept) == expected
    assert suite_view(query, accept) == expected
    assert proxy_view(query, accept) == expected
    assert mock_answer(mock, query, accept) == expected


def test_a_bad_format_value_is_a_client_error() -> None:
    with pytest.raises(negotiation.NegotiationError, match="format='yaml'"):
        negotiation.response_format([("format", "yaml")], "", "json")


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    ("application/json", b"{}", "json"),
    ("application/xml; charset=UTF-8", b"<root/>", "xml"),
    ("text/plain", b"  <root/>", "xml"),
    ("", b"{}", "json"),
    ("application/octet-stream", b"<root/>", "xml"),
])
def test_the_body_format_follows_content_type_else_sniffing(content_type: str, body: bytes,
                                                            expected: str) -> None:
    assert negotiation.body_format(content_type, body) == expected


@pytest.mark.parametrize(("content_type", "problem"), [
    ("application/json; charset=latin-1", "charset 'latin-1'"),
    ("multipart/form-data", "Content-Type 'multipart/form-data'"),
])
def test_other_charsets_and_media_types_are_refused(content_type: str, problem: str) -> None:
    with pytest.raises(negotiation.NegotiationError, match=problem):
        negotiation.body_format(content_type, b"{}")

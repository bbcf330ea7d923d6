"""The check test_fuzz.py adds to `st run` (loaded through SCHEMATHESIS_HOOKS;
imported by schemathesis, not collected by pytest).

`capmock_envelope_holds`: whatever schemathesis sends, the mock answers in
its envelope, never with FACTS 407 "Unknown Error" (capmock's own bug), and a
5xx only as the envelope that says so (HTTP 500 carries response.status.code
500: all items failed).

`capmock_writes_read_back`: what a write accepted (customer/add, update)
reads back with customer/get in JSON and in XML without a 407, so no accepted
input makes a later answer fail (in replay the get answers the sample).

Both are written against the wire only, so they judge the server as a
client sees it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

import schemathesis
from lxml import etree

UNKNOWN_ERROR = "407"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def request_code(body: bytes) -> str | None:
    """response.status.code of an envelope in JSON or XML, None if it is not one."""
    try:
        if body.lstrip()[:1] == b"<":
            code = etree.fromstring(body, PARSER).findtext("status/code")
        else:
            code = json.loads(body)["response"]["status"]["code"]
    except (ValueError, KeyError, TypeError, etree.XMLSyntaxError):
        return None
    return None if code is None else str(code)


@schemathesis.check
def capmock_envelope_holds(ctx: Any, response: Any, case: Any) -> None:
    if case.method.upper() == "HEAD":
        return
    code = request_code(response.content)
    if response.status_code == int(UNKNOWN_ERROR) or code == UNKNOWN_ERROR:
        raise AssertionError(f"407 Unknown Error: {response.content[:300]!r}")
    if code is None:
        raise AssertionError(f"HTTP {response.status_code} without the envelope: "
                             f"{response.content[:200]!r}")
    if response.status_code >= 500 and code != str(response.status_code):
        raise AssertionError(f"HTTP {response.status_code} with request-level code {code}")


WRITES = ("/v1.1/customer/add", "/v1.1/customer/update")


def written_mobiles(body: Any) -> list[str]:
    """The mobiles of the customers a JSON write body names (at most three)."""
    root = body.get("root") if isinstance(body, dict) else None
    items = root.get("customer") if isinstance(root, dict) else None
    items = items if isinstance(items, list) else [items]
    return [i["mobile"] for i in items if isinstance(i, dict) and isinstance(i.get("mobile"), str)
            and i["mobile"].isascii() and i["mobile"].isdigit()][:3]


def read_back(base: str, mobile: str, fmt: str) -> tuple[int, bytes]:
    url = f"{base}/v1.1/customer/get?mobile={quote(mobile)}&format={fmt}"
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@schemathesis.check
def capmock_writes_read_back(ctx: Any, response: Any, case: Any) -> None:
    if case.method.upper() != "POST" or case.path not in WRITES or \
            response.status_code not in (200, 201):
        return
    parts = urlsplit(response.request.url)
    base = f"{parts.scheme}://{parts.netloc}"
    for mobile in written_mobiles(case.body):
        for fmt in ("json", "xml"):
            status, body = read_back(base, mobile, fmt)
            if status == int(UNKNOWN_ERROR) or request_code(body) == UNKNOWN_ERROR:
                raise AssertionError(f"customer/get?mobile={mobile}&format={fmt} after "
                                     f"{case.path} answered 407: {body[:300]!r}")

"""The check test_fuzz.py adds to `st run` (loaded through SCHEMATHESIS_HOOKS;
imported by schemathesis, not collected by pytest).

`capmock_envelope_holds`: whatever schemathesis sends, the mock answers in
its envelope, never with FACTS 407 "Unknown Error" (capmock's own bug), and a
5xx only as the envelope that says so (HTTP 500 carries response.status.code
500: all items failed). Written against the wire only, so it judges the
server as a client sees it.
"""

from __future__ import annotations

import json
from typing import Any

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

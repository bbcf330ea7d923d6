"""The suite's own requests (the state probe, the directed workflows, the
pre-flight look at the base URL): the one module that sends them, over HTTP
or to an in-process WSGI app, with the run's time-out, and one shape for the
answer. (schemathesis's engine sends the generated cases itself.)

A request that gets no HTTP answer (refused, reset, no answer within the
time-out) raises `NoAnswer`, whose message names the request and why; the
callers turn it into a finding or a usage error, never a traceback.
`no_answer` tells the same for an error the engine reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.test import Client

from capmock.contracts.options import MEDIA, Options
from capmock.openapi.platform_auth import basic_header


class NoAnswer(Exception):
    """No HTTP answer: the message says which request and why; `why` says only why."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


@dataclass
class Answer:
    """Response-like, as the checks read it: headers map lower-case names to lists."""

    status_code: int
    content: bytes
    headers: dict[str, list[str]] = field(default_factory=dict)


def headers_for(options: Options, fmt: str, body: bool) -> dict[str, str]:
    headers = {"Accept": MEDIA[fmt]}
    if body:
        headers["Content-Type"] = MEDIA[fmt]
    if options.auth:
        headers["Authorization"] = basic_header(options.auth)
    return headers


def why(error: Exception, timeout: float) -> str:
    if isinstance(error, requests.Timeout):
        return f"no answer within {timeout:g} s (time-out)"
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
    if found:  # "Connection refused", "Name or service not known" ...
        return found.group(1)
    if isinstance(error, requests.ConnectionError):
        return f"connection failed ({type(error).__name__}: {error})"
    return f"{type(error).__name__}: {error}"


def no_answer(error: BaseException | None) -> bool:
    """Is this error (one the engine reports) a request without an HTTP answer?"""
    return isinstance(error, requests.RequestException | ConnectionError | TimeoutError)


def send(options: Options, fmt: str, method: str, path: str, data: bytes | None,
         query: dict[str, str]) -> Answer:
    """Send one request in `fmt`; raise NoAnswer when no HTTP answer comes."""
    headers = headers_for(options, fmt, data is not None)
    if options.app is not None:
        local = Client(options.app).open(path, method=method, data=data, headers=headers,
                                         query_string=query)
        return Answer(local.status_code, local.get_data(),
                      {k.lower(): [v] for k, v in local.headers.items()})
    url = options.base_url.rstrip("/") + path
    try:
        r = requests.request(method, url, data=data, params=query, headers=headers,
                             timeout=options.request_timeout)
        content = r.content
    except (requests.RequestException, ValueError) as error:  # ValueError: a malformed URL
        reason = why(error, options.request_timeout)
        raise NoAnswer(f"{method} {path} ({fmt}): {reason}", reason) from None
    return Answer(r.status_code, content, {k.lower(): [v] for k, v in r.headers.items()})


def as_data(answer: Answer) -> Any:
    """The JSON body as data, or None when it is not JSON."""
    import json

    try:
        return json.loads(answer.content)
    except (ValueError, RecursionError):
        return None

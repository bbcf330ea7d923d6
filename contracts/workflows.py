"""Directed stateful workflows, in each format, judged by the stateful checks.

schemathesis's stateful phase follows the document's links with generated
data, which rarely tries what matters most: an update that tries to change
a set identifier. These workflows do, deterministically: register a fresh
customer, read it back, update its profile and try to replace its external
id, read it back, write a note, a ticket and preferences and read them back,
and ask for an identity change; then ask for a customer nobody registered.
Every response goes through the same check instances, so a failure reads
like any other in the matrix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import requests
from werkzeug.test import Client

from capmock.contracts import stateful
from capmock.contracts.options import MEDIA, Options
from capmock.openapi import contract
from capmock.openapi.codec import data_to_xml
from capmock.openapi.platform_auth import basic_header

Step = tuple[str, dict[str, Any] | None, dict[str, str]]


def steps(mobile: str) -> list[Step]:
    """(operation, body, query) in order; the customer exists only in this run."""
    who = {"mobile": mobile}
    customer = {**who, "email": f"capmock.{mobile}@example.com", "external_id": f"CM{mobile}",
                "firstname": "Capmock", "lastname": "Workflow"}
    note = {**who, "associate_id": "capmock",
            "notes": {"note": [{"date": "2020-01-01 10:00:00", "description": f"note {mobile}"}]}}
    ticket = {**who, "ticket": [{"subject": f"ticket {mobile}", "message": "workflow"}]}
    preference = {**who, "custom_fields": {"field": [{"name": "capmock", "value": mobile}]}}
    change = {"identifier": "mobile", "old_value": mobile, "new_value": "9" + mobile[1:]}
    update = {**who, "lastname": "Updated", "external_id": f"CX{mobile}"}
    return [
        ("customer_add", {"root": {"customer": [customer]}}, {}),
        ("customer_get", None, who),
        ("customer_update", {"root": {"customer": [update]}}, {}),
        ("customer_get", None, who),
        ("customer_notes_add", {"root": {"customer": [note]}}, {}),
        ("customer_notes_get", None, who),
        ("customer_tickets_add", {"root": {"customer": [ticket]}}, {}),
        ("customer_tickets_get", None, who),
        ("customer_preferences_update", {"root": {"customer": [preference]}}, {}),
        ("customer_preferences_get", None, who),
        ("customer_update_identity", {"root": {"customer": [change]}}, {}),
    ]


def sender(options: Options, fmt: str) -> Callable[..., SimpleNamespace]:
    """A function sending one step in `fmt` and returning a response-like value."""
    headers = {"Accept": MEDIA[fmt], "Content-Type": MEDIA[fmt]}
    if options.auth:
        headers["Authorization"] = basic_header(options.auth)

    def send(method: str, path: str, body: dict | None, query: dict[str, str]) -> Any:
        data = None if body is None else (
            json.dumps(body).encode() if fmt == "json" else data_to_xml(body))
        params = {**query, "format": fmt}
        if options.app is not None:
            r = Client(options.app).open(path, method=method, data=data, headers=headers,
                                         query_string=params)
            return SimpleNamespace(status_code=r.status_code, content=r.get_data(),
                                   headers={"content-type": [r.headers.get("Content-Type", "")]})
        r = requests.request(method, options.base_url.rstrip("/") + path, data=data,
                             params=params, headers=headers, timeout=30)
        return SimpleNamespace(status_code=r.status_code, content=r.content,
                               headers={"content-type": [r.headers.get("Content-Type", "")]})
    return send


def as_case(operation: str, body: dict | None, query: dict[str, str], fmt: str) -> Any:
    op = contract.operations()[operation]
    return SimpleNamespace(method=op.method, path=op.path, body=body, query={**query,
                           "format": fmt}, headers={}, media_type=MEDIA[fmt], id=operation,
                           operation=SimpleNamespace(label=f"{op.method} {op.path}"))


def run(options: Options, fmt: str, record: Callable[[str, str, str, str | None], None]) -> None:
    """Send every step; record(operation, check, curl-less where, failure or None)."""
    checks = {"registrations_are_read_back": stateful.registrations_are_read_back(),
              "identifiers_never_change": stateful.identifiers_never_change(),
              "writes_are_read_back": stateful.writes_are_read_back()}
    send = sender(options, fmt)
    mobile = "9" + str(time.time_ns())[-11:]
    for operation, body, query in steps(mobile):
        op = contract.operations()[operation]
        response = send(op.method, op.path, body, query)
        case = as_case(operation, body, query, fmt)
        for name, check in checks.items():
            judge(record, operation, name, check.after_response, response, case)
    unknown(options, fmt, send, record)


def judge(record: Callable[..., None], operation: str, name: str, check: Callable,
          response: Any, case: Any) -> None:
    """Run one check on one response and record its outcome."""
    try:
        if name == "unknown_customer_is_not_found":
            check(response, case)
        else:
            check(None, response, case)
    except AssertionError as failure:
        record(operation, name, str(failure))
    else:
        record(operation, name, None)


def unknown(options: Options, fmt: str, send: Callable[..., Any],
            record: Callable[..., None]) -> None:
    """customer/get for an identifier this run never registered."""
    query = {"mobile": "8" + str(time.time_ns())[-11:]}
    op = contract.operations()["customer_get"]
    response = send(op.method, op.path, None, query)
    case = as_case("customer_get", None, query, fmt)
    judge(record, "customer_get", "unknown_customer_is_not_found",
          stateful.unknown_customer_is_not_found, response, case)

"""Directed stateful workflows, in each format, judged by the stateful checks.

schemathesis's stateful phase follows the document's links with generated
data, which rarely tries what matters most: an update that tries to change
a set identifier. These workflows do, deterministically: register a fresh
customer, read it back, update its profile and try to replace its external
id, read it back, write a note, a ticket and preferences and read them back,
and ask for an identity change; then ask for a customer nobody registered.
Every response goes through the same check instances, so a failure reads
like any other in the matrix.

Everything a workflow writes is unique to the run and the format (a fresh
mobile, and the run's token in every subject, note and value), so a stateful
server that keeps earlier runs' data never sees a duplicate. A step that
gets no HTTP answer is a failure of server_answers, and the workflow stops.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from capmock.contracts import checks, stateful, transport
from capmock.contracts.options import MEDIA, SERVER_ANSWERS, Options
from capmock.contracts.runid import run_token, unique_mobile
from capmock.openapi import contract
from capmock.openapi.codec import data_to_xml

Step = tuple[str, dict[str, Any] | None, dict[str, str]]
Record = Callable[..., None]


def steps(mobile: str, token: str) -> list[Step]:
    """(operation, body, query) in order; the customer exists only in this run."""
    who = {"mobile": mobile}
    customer = {**who, "email": f"capmock.{mobile}@example.com", "external_id": f"CM{mobile}",
                "firstname": "Capmock", "lastname": "Workflow"}
    note = {**who, "associate_id": "capmock", "notes": {"note": [
        {"date": "2020-01-01 10:00:00", "description": f"note {token} {mobile}"}]}}
    ticket = {**who, "ticket": [{"subject": f"ticket {token} {mobile}",
                                 "message": f"workflow {token}"}]}
    preference = {**who, "custom_fields": {"field": [{"name": "capmock",
                                                      "value": f"{token}{mobile}"}]}}
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


REQUESTS = len(steps("0", "")) + 1  # the steps and the unknown customer's read


def encode(body: dict | None, fmt: str) -> bytes | None:
    if body is None:
        return None
    return json.dumps(body).encode() if fmt == "json" else data_to_xml(body)


def as_case(operation: str, body: dict | None, query: dict[str, str], fmt: str) -> Any:
    op = contract.operations()[operation]
    return SimpleNamespace(method=op.method, path=op.path, body=body, query={**query,
                           "format": fmt}, headers={}, media_type=MEDIA[fmt], id=operation,
                           operation=SimpleNamespace(label=f"{op.method} {op.path}"))


def send(options: Options, fmt: str, operation: str, body: dict | None,
         query: dict[str, str]) -> transport.Answer:
    op = contract.operations()[operation]
    return transport.send(options, fmt, op.method, op.path, encode(body, fmt),
                          {**query, "format": fmt})


def run(settings: checks.RunSettings, fmt: str, record: Record) -> None:
    """Send every step; record(operation, check, failure or None, reason if not judged)."""
    options = settings.options
    judges: dict[str, Any] = {
        name: getattr(stateful, name)(settings) for name in
        ("registrations_are_read_back", "identifiers_never_change", "writes_are_read_back")}
    for operation, body, query in steps(unique_mobile(), run_token()):
        try:
            response = send(options, fmt, operation, body, query)
        except transport.NoAnswer as error:
            record(operation, SERVER_ANSWERS, f"{error} (directed workflow)")
            return
        case = as_case(operation, body, query, fmt)
        for name, check in judges.items():
            judge(settings, record, operation, name,
                  functools.partial(check.after_response, settings), response, case)
    unknown(settings, fmt, record)


def judge(settings: checks.RunSettings, record: Record, operation: str, name: str,
          check: Callable[[Any, Any], Any], response: Any, case: Any) -> None:
    """Run one check on one response and record its outcome (True: not judged)."""
    try:
        skipped = check(response, case)
    except AssertionError as failure:
        record(operation, name, str(failure))
        return
    if skipped:
        reasons = settings.take_unjudged().get((operation, name))
        reason = reasons.most_common(1)[0][0] if reasons else "nothing to judge"
        record(operation, name, None, reason)
    else:
        record(operation, name, None)


def unknown(settings: checks.RunSettings, fmt: str, record: Record) -> None:
    """customer/get for an identifier this run never registered."""
    query = {"mobile": unique_mobile("8")}
    try:
        response = send(settings.options, fmt, "customer_get", None, query)
    except transport.NoAnswer as error:
        record("customer_get", SERVER_ANSWERS, f"{error} (directed workflow)")
        return
    judge(settings, record, "customer_get", "unknown_customer_is_not_found",
          stateful.unknown_customer_is_not_found, response,
          as_case("customer_get", None, query, fmt))

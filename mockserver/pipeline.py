"""The mock's pipeline: one function from a MockRequest to a MockResponse,
composed of stages on plain values (no Flask; wsgi.py is the shell):

    1 negotiate the answer's format   (negotiation: format=, Accept)
    2 authenticate                    (auth: the platform's Basic scheme)
    3 route                           (capmock.openapi.routing; 404 / 405)
    4 read the client's choice        (replay.choice: Prefer / __ parameters)
    5 validate                        (capmock.openapi.validation: problems as values)
    6 decide                          (decision.TABLE: problems + who answers -> a plan)
    7 answer                          (the answering port: replay or the sandbox)
    8 render and apply the status policy

A stage that must stop raises a Rejection (a request-level error), rendered in
the Capillary envelope in the negotiated format (never a stack trace). Item
failures are no Rejection: the port's Answer carries them (201 or 500).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from capmock.mockserver import auth, decision, negotiation, replay
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest, MockResponse
from capmock.mockserver.port import Answer, AnsweringPort, Call, Choice
from capmock.mockserver.settings import Settings
from capmock.openapi import codes, contract, envelope, routing, validation
from capmock.openapi import wire as wires
from capmock.openapi.codec import data_to_json, data_to_xml
from capmock.openapi.contract import Operation

BAD_REQUEST = 400
OK = 200
ERROR_BODY = "ErrorEnvelopeBody"  # a request-level failure before routing


# --- the stages ------------------------------------------------------------------------

def route(request: MockRequest) -> Operation:
    """Stage 3: the contract's routing; its 404/405 refusal becomes a Rejection."""
    found = routing.route(request.method, request.path)
    if isinstance(found, routing.Refusal):
        allow = (("Allow", ", ".join(found.allowed)),) if found.allowed else ()
        raise Rejection(found.status, found.message, allow)  # RFC 9110: a 405 says Allow
    return found


def validate(op: Operation, request: MockRequest, settings: Settings) -> validation.Checked:
    """Stage 5: the request's items (echoed in failures) and problems, by the contract."""
    return validation.check_request(
        op, request.query, request.header("content-type"), request.body,
        batch_limit=settings.batch_limit, max_depth=settings.max_depth)


def answerer(op: Operation, want: Choice, port: AnsweringPort,
             items: Sequence[dict[str, Any]] = ()) -> decision.Who:
    """The mode's port when it acts itself on this operation (no forced code, or
    an item failure forced on one of the request's items), else replay."""
    if port is not replay.REPLAY and port.handles(op) and \
            (want.code is None or forced_item(op, want, items) is not None):
        return decision.Who.PORT
    return decision.Who.REPLAY


def forced_item(op: Operation, want: Choice,
                items: Sequence[dict[str, Any]]) -> tuple[int, dict[str, str]] | None:
    """(item index, item_status) of `Prefer: code=NNNN, item=N` when NNNN is an
    item failure of the operation and the request has an item N: the port fails
    that item and the others act on it (issue 14 item 6). Else None (replay)."""
    if want.code is None or want.item is None or want.item > len(items):
        return None
    if want.code in codes.request_codes():
        return None
    entry = replay.applicable_code(op, want.code)  # 400 for a code the operation lacks
    if entry.kind == "success":
        return None
    return want.item - 1, envelope.item_status(op.id, want.code)


def first_values(request: MockRequest) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in request.query:
        query.setdefault(name, value)
    return query


def carry_out(plan: decision.Plan, call: Call, port: AnsweringPort) -> Answer:
    """Stage 7: refuse, or let the planned port answer."""
    if plan.act in (decision.Act.REFUSE_FIRST, decision.Act.REFUSE_COUNTED):
        raise Rejection(BAD_REQUEST, plan.message)
    return (port if plan.who is decision.Who.PORT else replay.REPLAY).answer(call)


def render(data: dict[str, Any], fmt: str, op: Operation | None, settings: Settings) -> bytes:
    """XML as is; JSON written for the wire (platform: numeric code, arrays ...)."""
    if fmt != "json":
        return data_to_xml(data)
    schema = op.body_schemas["response"] if op else ERROR_BODY
    return data_to_json(contract.render_for(schema, data, settings.wire))


def respond(body: bytes, fmt: str, request_code: int, settings: Settings,
            op: Operation | None, headers: tuple[tuple[str, str], ...] = ()) -> MockResponse:
    """Stage 8: apply the HTTP status policy of the contract layer (platform, mirror,
    always-200). An error's headers (Allow, WWW-Authenticate) go with its status line only."""
    status = wires.http_status(settings.http_status, request_code)
    return MockResponse(status, body, negotiation.MEDIA[fmt], operation=op.id if op else None,
                        request_code=request_code,
                        headers=headers if status == request_code else ())


def answered(answer: Answer, fmt: str, settings: Settings, op: Operation) -> MockResponse:
    """A port's answer: replay's sample bytes as they are, data rendered for the wire."""
    body = answer.body if isinstance(answer.body, bytes) else \
        render(answer.body, fmt, op, settings)
    return respond(body, fmt, answer.request_code, settings, op)


def rejected(rejection: Rejection, fmt: str, settings: Settings,
             op: Operation | None) -> MockResponse:
    """A request-level error in the envelope, the detail appended to the message."""
    body = envelope.request_error(rejection.request_code)
    if rejection.detail:
        status = body["response"]["status"]
        status["message"] = f"{status['message']}: {rejection.detail}"
    answer = respond(render(body, fmt, op, settings), fmt, rejection.request_code, settings, op,
                     rejection.headers)
    answer.reason = rejection.detail or str(body["response"]["status"].get("message", ""))
    return answer


# --- the composition ---------------------------------------------------------------------

def handle(request: MockRequest, settings: Settings,
           port: AnsweringPort | None = None) -> MockResponse:
    """Answer one request; every failure is a documented envelope. `port` is the
    mode's answering port (the sandbox); replay answers what it does not."""
    port = port or replay.REPLAY
    fmt = negotiation.accept_format(request.header("accept")) or settings.default_format
    op = None
    try:
        fmt = negotiation.response_format(request, settings.default_format)
        auth.authenticate(request, settings.auth)
        op = route(request)
        want = replay.choice(request)
        checked = validate(op, request, settings)
        who = answerer(op, want, port, checked.items)
        plan = decision.decide(op.id, checked.problems, who, len(checked.items))
        forced = forced_item(op, want, checked.items) if who is decision.Who.PORT else None
        if forced is not None and plan.act is decision.Act.ANSWER:
            plan = dataclasses.replace(plan, failures={**plan.failures, forced[0]: forced[1]})
        call = Call(op, first_values(request), checked.items, plan.failures, settings,
                    choice=want, fmt=fmt)
        return answered(carry_out(plan, call, port), fmt, settings, op)
    except Rejection as rejection:
        return rejected(rejection, fmt, settings, op)

"""The mock's pipeline: one function from a MockRequest to a MockResponse.

    route -> negotiate -> authenticate -> validate -> choose (replay or forced
    code) -> render JSON or XML -> apply the HTTP status policy

Each stage is a module with one job and plain values in and out; a stage
that must stop raises a Rejection, which is rendered in the Capillary
envelope in the negotiated format (never a stack trace).
"""

from __future__ import annotations

from typing import Any, NoReturn

from capmock.mockserver import auth, negotiation, replay
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest, MockResponse
from capmock.mockserver.settings import Settings
from capmock.openapi import contract, envelope, routing, validation
from capmock.openapi import wire as wires
from capmock.openapi.codec import data_to_json, data_to_xml
from capmock.openapi.contract import Operation
from capmock.openapi.outcomes import code_for

BAD_REQUEST = 400
OK = 200
ERROR_BODY = "ErrorEnvelopeBody"  # a request-level failure before routing


def render(data: dict[str, Any], fmt: str, op: Operation | None, settings: Settings) -> bytes:
    """XML as is; JSON written for the wire (platform: numeric code, arrays ...)."""
    if fmt != "json":
        return data_to_xml(data)
    schema = op.body_schemas["response"] if op else ERROR_BODY
    return data_to_json(contract.render_for(schema, data, settings.wire))


def respond(body: bytes, fmt: str, request_code: int, settings: Settings,
            op: Operation | None) -> MockResponse:
    """Apply the HTTP status policy of the contract layer (platform, mirror, always-200)."""
    status = wires.http_status(settings.http_status, request_code)
    return MockResponse(status, body, negotiation.MEDIA[fmt], operation=op.id if op else None,
                        request_code=request_code)


def answered(data: dict[str, Any], fmt: str, settings: Settings, op: Operation) -> MockResponse:
    """A whole answer of the operation (sandbox or forced code), rendered and policed."""
    code = int(data["response"]["status"]["code"])
    return respond(render(data, fmt, op, settings), fmt, code, settings, op)


def rejected(rejection: Rejection, fmt: str, settings: Settings,
             op: Operation | None) -> MockResponse:
    body = rejection.body or envelope.request_error(rejection.request_code)
    if rejection.detail and rejection.body is None:
        status = body["response"]["status"]
        status["message"] = f"{status['message']}: {rejection.detail}"
    return respond(render(body, fmt, op, settings), fmt, rejection.request_code, settings, op)


def handle(request: MockRequest, settings: Settings, sandbox: Any = None) -> MockResponse:
    """Answer one request; every failure is a documented envelope. With a
    sandbox (mode sandbox), valid requests act on its store instead of replaying."""
    fmt = negotiation.accept_format(request.header("accept")) or settings.default_format
    op = None
    try:
        fmt = negotiation.response_format(request, settings.default_format)
        auth.authenticate(request, settings.auth)
        op = route(request)
        return answer(op, request, fmt, settings, sandbox)
    except Rejection as rejection:
        return rejected(rejection, fmt, settings, op)


def route(request: MockRequest) -> Operation:
    """The contract's routing; its 404/405 refusal becomes the mock's Rejection."""
    found = routing.route(request.method, request.path)
    if isinstance(found, routing.Refusal):
        raise Rejection(found.status, found.message)
    return found


def answer(op: Operation, request: MockRequest, fmt: str, settings: Settings,
           sandbox: Any = None) -> MockResponse:
    want = replay.choice(request)
    request_items, problems = check(op, request, settings)
    if sandbox is not None and want.code is None and sandbox.handles(op):
        data = sandbox.answer(sandbox_call(op, request, request_items, problems, settings))
        return answered(data, fmt, settings, op)
    if problems:
        reject(op, problems, request_items)
    if want.code is not None:
        data = replay.forced(op, want, request_items)
        return answered(data, fmt, settings, op)
    return respond(replay.documented(op, want.example, fmt, settings.wire), fmt, OK, settings,
                   op)


def check(op: Operation, request: MockRequest,
          settings: Settings) -> tuple[list[dict[str, Any]], list[validation.Problem]]:
    """Validate by the contract; return the items (for echoing identifiers) and
    the problems. A refusal (unreadable query or body) is request-level 400."""
    checked = validation.check_request(
        op, request.query, request.header("content-type"), request.body,
        batch_limit=settings.batch_limit, max_depth=settings.max_depth)
    for problem in checked.problems:
        if problem.kind == validation.REFUSED:
            raise Rejection(BAD_REQUEST, problem.message)
    return checked.items, checked.problems


def sandbox_call(op: Operation, request: MockRequest, items: list[dict[str, Any]],
                 problems: list[validation.Problem], settings: Settings) -> Any:
    """The sandbox's view of a request: an item whose problem has a documented
    code fails alone (the rest of the batch goes on); anything else rejects."""
    from capmock.mockserver.sandbox.service import Call

    if any(p.item is None for p in problems):
        reject(op, problems, items)
    failures: dict[int, dict[str, str]] = {}
    for problem in problems:
        code = code_for(op.id, problem.kind, problem.field)
        if code is None:
            reject(op, [problem], items)
        if problem.item is not None:  # item-less problems were rejected above
            failures.setdefault(problem.item, envelope.item_status(op.id, code))
    query: dict[str, str] = {}
    for name, value in request.query:
        query.setdefault(name, value)
    return Call(op, query, items, failures, settings)


def reject(op: Operation, problems: list[validation.Problem], items: list[dict]) -> NoReturn:
    """Turn problems into the documented answer: item-level codes where the
    document has one (rules.yaml), else request-level 400 naming the field."""
    failures: dict[int, dict[str, str]] = {}
    for problem in problems:
        code = code_for(op.id, problem.kind, problem.field)
        if code is None:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise Rejection(BAD_REQUEST, problem.message + more)
        failures.setdefault(problem.item or 0, envelope.item_status(op.id, code))
    if any(p.item is None for p in problems):
        failures = dict.fromkeys(range(max(len(items), 1)), next(iter(failures.values())))
    sample = envelope.answer_items(replay.sample_data(op.id, "default"), op.item)
    body = replay.with_failures(op, sample[: max(len(items), 1)], failures, items)
    raise Rejection(int(body["response"]["status"]["code"]), body=body)


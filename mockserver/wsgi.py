"""The Flask application: one catch-all route feeding the pipeline, plus the
admin endpoints under the reserved prefix /__capmock/.

This is the only module that knows Flask: it converts the Werkzeug request
into a MockRequest, and adds what a partner expects of a mock around the
pipeline's answer: a unique X-Cap-Requestid, CORS, latency injection and the
request journal.
"""

from __future__ import annotations

import functools
import gc
import itertools
import logging
import os
import secrets
import time
from dataclasses import replace
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.sansio.response import Response as SansIOResponse

from capmock.mockserver import admin, faults, negotiation, replay
from capmock.mockserver.accesslog import AccessLog
from capmock.mockserver.bodies import TooLarge, read_body
from capmock.mockserver.errors import Rejection
from capmock.mockserver.forcing import Forcing
from capmock.mockserver.http import MockRequest, MockResponse
from capmock.mockserver.journal import Raw, item_codes, open_journal
from capmock.mockserver.pipeline import handle, rejected
from capmock.mockserver.port import AnsweringPort
from capmock.mockserver.replay import REPLAY
from capmock.mockserver.settings import Settings
from capmock.openapi import codes, contract

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]  # others: see create_app
CACHE_SIZE = 4096
CACHEABLE_BODY = 16_384
logger = logging.getLogger("capmock")


class Mock:
    """Settings, the journal and the response cache of one worker
    (app.extensions["capmock"], where the admin views find it)."""

    def __init__(self, settings: Settings, sandbox: AnsweringPort | None = None) -> None:
        self.settings = settings
        self.journal = open_journal(settings)
        self.ids = RequestIds()
        self.cache: dict[tuple, MockResponse] = {}
        self.sandbox = sandbox  # the answering port of mode sandbox; None: replay
        self.port: AnsweringPort = sandbox or REPLAY
        self.faults = faults.Faults(settings)
        self.forcing = Forcing()  # POST /__capmock/force

    def answer(self, mock_request: MockRequest) -> MockResponse:
        """The pipeline's answer; memoised when the port is not stateful (replay:
        the same request gets the same bytes; a sandbox's answers depend on its state)."""
        if self.port.stateful or len(mock_request.body) > CACHEABLE_BODY:
            return handle(mock_request, self.settings, self.port)
        key = mock_request.cache_key()
        cached = self.cache.get(key)
        if cached is None:
            if len(self.cache) >= CACHE_SIZE:
                self.cache.clear()
            answer = handle(mock_request, self.settings)
            cached = self.cache[key] = replace(answer, item_codes=item_codes(answer.body))
        return cached


@functools.lru_cache(maxsize=256)  # bounded: header names are the client's to choose
def header_name(environ_key: str) -> str:
    """"HTTP_X_CAP_API_OAUTH_TOKEN" -> "x-cap-api-oauth-token", worked out once per name."""
    return environ_key[5:].replace("_", "-").lower()


def environ_headers(environ: dict[str, Any]) -> dict[str, str]:
    """Lower-case request headers straight from the WSGI environ (the hot path)."""
    headers = {header_name(k): v for k, v in environ.items() if k[:5] == "HTTP_"}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def to_mock_request(body: bytes) -> MockRequest:
    environ = request.environ
    path = environ.get("PATH_INFO", "") or "/"
    return MockRequest(
        method=environ["REQUEST_METHOD"],
        path=path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace"),
        query_string=environ.get("QUERY_STRING", ""),
        headers=environ_headers(environ),
        body=body,
    )


EXPOSE = ("Access-Control-Expose-Headers", "X-Cap-Requestid")
ANY_ORIGIN = [("Access-Control-Allow-Origin", "*"), EXPOSE]


def cors_headers(settings: Settings) -> list[tuple[str, str]]:
    """A browser's Origin is echoed (so the answer varies by Origin: Vary says
    so); a request without one gets "*", the same for everyone, and no Vary
    (the Fetch standard's advice for a static Access-Control-Allow-Origin)."""
    if not settings.cors:
        return []
    origin = request.environ.get("HTTP_ORIGIN")
    if origin is None or not origin.isprintable():  # no CR/LF into a header line
        return ANY_ORIGIN
    return [("Access-Control-Allow-Origin", origin), EXPOSE, ("Vary", "Origin")]


def preflight(settings: Settings) -> Response | None:
    """Answer a CORS preflight (OPTIONS with Access-Control-Request-Method)."""
    if not (settings.cors and request.method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers):
        return None
    headers = [*cors_headers(settings), ("Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS"),
               ("Access-Control-Allow-Headers",
                request.headers.get("Access-Control-Request-Headers", "*")),
               ("Access-Control-Max-Age", "600")]
    return Response(status=204, headers=headers)


def delay(mock: Mock, mock_request: MockRequest) -> None:
    """Latency injection: the server-wide setting, or Prefer: delay=MS / __delay=MS.
    A delay the pipeline refused (not a number 0-60000: its answer is the 400)
    adds none: a refusal is not slowed down by the value it refuses."""
    wanted = None
    if "prefer" in mock_request.headers or "__delay" in mock_request.query_string:
        try:
            wanted = replay.as_int(replay.prefer_pairs(mock_request), "delay", 0,
                                   replay.MAX_DELAY_MS)
        except Rejection:
            wanted = None
    ms = max(mock.settings.delay_ms, wanted or 0)
    if ms:
        time.sleep(min(ms, replay.MAX_DELAY_MS) / 1000)


class RequestIds:
    """Unique X-Cap-Requestid values, cheaply: a random per-process prefix and a
    counter (uuid4 costs ~15 us in os.urandom on these machines, per request)."""

    def __init__(self) -> None:
        self.prefix = f"{os.getpid():x}{secrets.token_hex(6)}"
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):010x}"


def body_of(limit: int) -> bytes:
    """The request body, read straight from the WSGI input (werkzeug's stream
    wrappers cost ~20 us a request); bodyless GETs read nothing. A body over
    the limit, chunked or not, is refused (bodies.TooLarge), never cut."""
    return read_body(request.environ, limit)


class MockAnswer(Response):
    """A MockResponse as Flask's Response, with X-Cap-Requestid and the CORS
    headers.

    Those are added to the header list as it is handed to the WSGI server,
    not kept in .headers: Werkzeug checks and copies every header in .headers
    twice per response (Headers, then get_wsgi_headers), ~2.3 us each, and
    for these three or four that was ~8 us of a ~100 us request. They are values
    capmock made (a hex id, fixed strings) or an Origin without control
    characters. Nothing reads them from .headers: capmock has no
    after_request hook, and clients (the test client too) read what the
    server sent."""

    def __init__(self, answer: MockResponse, request_id: str, settings: Settings) -> None:
        super().__init__(answer.body, status=answer.status, content_type=answer.content_type)
        self.added_headers = [*answer.headers, ("X-Cap-Requestid", request_id),
                              *cors_headers(settings)]

    def get_wsgi_response(self, environ: dict[str, Any]) -> tuple[Any, str, list[Any]]:
        app_iter, status, headers = super().get_wsgi_response(environ)
        return app_iter, status, headers + self.added_headers


class FaultAnswer(MockAnswer):
    """An answer with an injected fault (faults.py): its status and headers,
    the Content-Length the fault announces, and the fault's chunks."""

    def __init__(self, answer: MockResponse, request_id: str, settings: Settings,
                 kind: str) -> None:
        super().__init__(answer, request_id, settings)
        length, self.response = faults.shape(kind, answer.body)
        self.headers["Content-Length"] = str(length)


def mock_view(mock: Mock, path: str = "") -> Response:
    started = time.perf_counter()
    early = preflight(mock.settings)
    if early is not None:
        return early
    sent = mock_request = to_mock_request(body_of(mock.settings.max_body_bytes))
    forced = plan = None
    if mock.forcing.rules:  # POST /__capmock/force: answered as if it sent Prefer
        mock_request, forced = mock.forcing.apply(mock_request)
    try:
        plan = mock.faults.plan(mock_request)
        answer = mock.answer(mock_request)
    except Rejection as bad_fault:  # an unknown fault's name
        answer = rejected(bad_fault, answer_format(mock), mock.settings, None)
    delay(mock, mock_request)
    request_id = mock.ids.next()
    mock.journal.record(Raw(request_id, time.time(), sent, answer,
                            time.perf_counter() - started, forced,
                            plan and f"{plan.kind} ({plan.source})"))
    if plan is not None:
        return FaultAnswer(answer, request_id, mock.settings, plan.kind)
    return MockAnswer(answer, request_id, mock.settings)


def refusal(mock: Mock, rejection: Rejection, fmt: str) -> MockAnswer:
    """A request-level error in the envelope, answered outside mock_view."""
    answer = rejected(rejection, fmt, mock.settings, None)
    return MockAnswer(answer, mock.ids.next(), mock.settings)


def too_large(mock: Mock, limit: int | None = None) -> Response:
    limit = limit or mock.settings.max_body_bytes
    return refusal(mock, Rejection(400, f"the body is larger than {limit} bytes"),
                   answer_format(mock))


def answer_format(mock: Mock) -> str:
    """The format the client asked for, as far as it can be told (else the default)."""
    try:
        return negotiation.response_format(to_mock_request(b""), mock.settings.default_format)
    except Rejection:
        return mock.settings.default_format


def http_error(mock: Mock, error: HTTPException) -> Response | SansIOResponse:
    """Werkzeug's refusals in the envelope, never its HTML pages. A path its
    router cannot match (a control character such as %0a: `<path:path>`
    stops at a newline) and a method no rule takes go through the pipeline,
    which answers them as it answers any unknown resource (404) or method (405).
    Any other refusal keeps its status when the FACTS table has that
    request-level code, else (400 from Werkzeug's own parsing, 413, 431 ...)
    it is the generic 400 "Input is invalid"."""
    if error.response is not None:  # abort(Response): an answer already made
        return error.response
    if isinstance(error, NotFound | MethodNotAllowed):
        try:
            return mock_view(mock)
        except TooLarge as too_big:  # raised inside this handler: no other handler sees it
            return too_large(mock, too_big.limit)
    code = error.code or 500
    if code >= 500:
        return unexpected(mock, error)
    kept = code if code in codes.request_codes() else 400
    return refusal(mock, Rejection(kept, f"{code} {error.name}"), answer_format(mock))


def unexpected(mock: Mock, error: Exception) -> Response:
    """A bug in capmock is answered with FACTS 407 "Unknown Error", logged with its trace."""
    logger.exception("unexpected error answering %s %s", request.method, request.path)
    return refusal(mock, Rejection(407, type(error).__name__), answer_format(mock))


def warm_up(mock: Mock) -> None:
    """Load the contract and fixtures now, so the first request is as fast as any."""
    for op in contract.operations().values():
        for role in op.body_schemas:
            contract.json_validator(op.body_schemas[role], "lenient")
            contract.xml_schema(op.id, role)
        replay.examples(op.id)
        mock.answer(MockRequest(op.method, op.path, headers={"accept": "application/json"}))
    mock.cache.clear()


def create_app(settings: Settings | None = None) -> Flask:
    """The WSGI application; settings default to CAPMOCK_SETTINGS (set by serve)."""
    from capmock.mockserver import wiring  # the one module that wires the sandbox in

    settings = settings or Settings.from_env()
    box = wiring.answering_port(settings)
    mock = Mock(settings, box)
    warm_up(mock)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.register_blueprint(admin.blueprint, url_prefix=admin.PREFIX)
    wiring.register_admin(app, box)

    def view(path: str = "") -> Response:
        return mock_view(mock, path)

    app.add_url_rule("/", "mock_root", view, methods=METHODS, provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "mock", view, methods=METHODS,
                     provide_automatic_options=False)
    app.before_request(admin.Guard(settings))  # the Host check; admin access
    app.register_error_handler(Rejection, lambda error: refusal(mock, error, answer_format(mock)))
    app.register_error_handler(RequestEntityTooLarge, lambda _error: too_large(mock))
    app.register_error_handler(TooLarge, lambda error: too_large(mock, error.limit))
    app.register_error_handler(HTTPException, lambda error: http_error(mock, error))
    app.register_error_handler(Exception, lambda error: unexpected(mock, error))
    app.extensions["capmock"] = mock
    if settings.access_log:
        app.wsgi_app = AccessLog(app.wsgi_app)  # type: ignore[method-assign]
    return app


def serve_app() -> Flask:
    """The app as `capmock serve` runs it in each worker: created, warmed up,
    then everything alive moved out of the garbage collector's reach
    (gc.freeze). The contract, validators and fixtures are ~45,000 objects that
    live as long as the worker; a full collection scanned them all, stalling
    the worker ~25-40 ms every few thousand requests (measured in process:
    longest full collection 39 ms before, 3.4 ms after). Not done by
    create_app, so tests that make many apps can still collect old ones."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app

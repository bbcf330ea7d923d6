"""The Flask application: one catch-all route feeding the pipeline, plus the
admin endpoints under the reserved prefix /__capmock/.

This is the only module that knows Flask: it converts the Werkzeug request
into a MockRequest, and adds what a partner expects of a mock around the
pipeline's answer: a unique X-Cap-Requestid, CORS, latency injection and the
request journal.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from capmock.mockserver import admin, replay
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest, MockResponse
from capmock.mockserver.journal import open_journal
from capmock.mockserver.pipeline import handle, rejected
from capmock.mockserver.settings import Settings
from capmock.openapi import contract

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]  # others: see create_app
CACHE_SIZE = 4096
CACHEABLE_BODY = 16_384
JOURNAL_BODY = 4096
logger = logging.getLogger("capmock")


class Mock:
    """Settings, the journal and the response cache of one worker
    (app.extensions["capmock"], where the admin views find it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.journal = open_journal(settings.journal_path, settings.journal_size)
        self.cache: dict[tuple, MockResponse] = {}

    def answer(self, mock_request: MockRequest) -> MockResponse:
        """The pipeline's answer; memoised, since the same request gets the same bytes."""
        if len(mock_request.body) > CACHEABLE_BODY:
            return handle(mock_request, self.settings)
        key = mock_request.cache_key()
        cached = self.cache.get(key)
        if cached is None:
            if len(self.cache) >= CACHE_SIZE:
                self.cache.clear()
            cached = self.cache[key] = handle(mock_request, self.settings)
        return cached


def to_mock_request(body: bytes) -> MockRequest:
    return MockRequest(
        method=request.method,
        path=request.path,
        query_string=request.query_string.decode("latin-1"),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )


def cors_headers(settings: Settings) -> dict[str, str]:
    if not settings.cors:
        return {}
    return {"Access-Control-Allow-Origin": request.headers.get("Origin", "*"),
            "Access-Control-Expose-Headers": "X-Cap-Requestid", "Vary": "Origin"}


def preflight(settings: Settings) -> Response | None:
    """Answer a CORS preflight (OPTIONS with Access-Control-Request-Method)."""
    if not (settings.cors and request.method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers):
        return None
    headers = {**cors_headers(settings), "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
               "Access-Control-Allow-Headers":
                   request.headers.get("Access-Control-Request-Headers", "*"),
               "Access-Control-Max-Age": "600"}
    return Response(status=204, headers=headers)


def delay(mock: Mock, mock_request: MockRequest) -> None:
    wanted = replay.prefer_pairs(mock_request).get("delay", "")
    ms = max(mock.settings.delay_ms, int(wanted) if wanted.isdigit() else 0)
    if ms:
        time.sleep(min(ms, replay.MAX_DELAY_MS) / 1000)


def journal_entry(request_id: str, mock_request: MockRequest, answer: MockResponse,
                  started: float) -> dict[str, Any]:
    return {
        "id": request_id,
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "method": mock_request.method,
        "path": mock_request.path,
        "query": mock_request.query_string,
        "headers": mock_request.headers,
        "body": mock_request.body[:JOURNAL_BODY].decode("utf-8", "replace"),
        "operation": answer.operation,
        "status": answer.status,
        "code": answer.request_code,
        "ms": round((time.perf_counter() - started) * 1000, 3),
    }


def mock_view(mock: Mock, path: str = "") -> Response:
    started = time.perf_counter()
    early = preflight(mock.settings)
    if early is not None:
        return early
    mock_request = to_mock_request(request.get_data(cache=False))
    answer = mock.answer(mock_request)
    delay(mock, mock_request)
    request_id = uuid.uuid4().hex
    mock.journal.record(journal_entry(request_id, mock_request, answer, started))
    headers = {"X-Cap-Requestid": request_id, **cors_headers(mock.settings)}
    return Response(answer.body, status=answer.status, content_type=answer.content_type,
                    headers=headers)


def too_large(mock: Mock) -> Response:
    limit = mock.settings.max_body_bytes
    fmt = mock.settings.default_format
    answer = rejected(Rejection(400, f"the body is larger than {limit} bytes"), fmt,
                      mock.settings, None)
    return Response(answer.body, status=answer.status, content_type=answer.content_type,
                    headers={"X-Cap-Requestid": uuid.uuid4().hex, **cors_headers(mock.settings)})


def unexpected(mock: Mock, error: Exception) -> Response:
    """A bug in capmock is answered with FACTS 407 "Unknown Error", logged with its trace."""
    if isinstance(error, HTTPException):
        return error
    logger.exception("unexpected error answering %s %s", request.method, request.path)
    answer = rejected(Rejection(407, type(error).__name__), mock.settings.default_format,
                      mock.settings, None)
    return Response(answer.body, status=answer.status, content_type=answer.content_type,
                    headers={"X-Cap-Requestid": uuid.uuid4().hex, **cors_headers(mock.settings)})


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
    settings = settings or Settings.from_env()
    mock = Mock(settings)
    warm_up(mock)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.register_blueprint(admin.blueprint, url_prefix=admin.PREFIX)

    def view(path: str = "") -> Response:
        return mock_view(mock, path)

    app.add_url_rule("/", "mock_root", view, methods=METHODS, provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "mock", view, methods=METHODS,
                     provide_automatic_options=False)
    app.register_error_handler(RequestEntityTooLarge, lambda _error: too_large(mock))
    app.register_error_handler(MethodNotAllowed, lambda _error: mock_view(mock))
    app.register_error_handler(Exception, lambda error: unexpected(mock, error))
    app.extensions["capmock"] = mock
    return app

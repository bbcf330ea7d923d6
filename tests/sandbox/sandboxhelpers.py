"""Shared helpers of the sandbox tests (imported by module name)."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import envelope
from capmock.openapi.codec import data_to_xml, xml_to_data

MEDIA = {"json": "application/json", "xml": "application/xml"}
JSON = MEDIA["json"]
ADMIN = {"X-Capmock-Admin": "1"}  # a bodyless admin POST that no other site could send
STORE = {"default": ":memory:"}  # a test module's fixture may point it at PostgreSQL
OPENED: list[Any] = []  # the stores of the sandboxes made here, closed by close_stores()
# outcome() of item-level failures on the platform's HTTP status policy (the default): HTTP 200,
# the request-level code in the body
ALL_FAILED = (200, 500)
SOME_FAILED = (200, 201)


def sandbox(**settings: Any) -> FlaskClient:
    """A test client of a fresh sandbox (in memory unless store= or STORE says otherwise)."""
    settings.setdefault("store", STORE["default"])
    app = create_app(Settings(mode="sandbox", **settings))
    OPENED.append(app.extensions["capmock"].sandbox.store)
    return app.test_client()


def close_stores() -> None:
    """Close the connections of the sandboxes made so far (this thread's)."""
    while OPENED:
        OPENED.pop().close()


def encode(data: dict[str, Any], fmt: str) -> bytes:
    return json.dumps(data).encode() if fmt == "json" else data_to_xml(data)


def decode(body: bytes, fmt: str) -> dict[str, Any]:
    return json.loads(body) if fmt == "json" else xml_to_data(body)


def post(c: FlaskClient, path: str, items: list[dict[str, Any]] | dict[str, Any],
         fmt: str = "json", key: str = "customer", query: str = "") -> tuple[int, dict]:
    """POST root/<key> items in `fmt` and read the answer in the same format."""
    body = encode({"root": {key: items}}, fmt)
    answer = c.post(f"/v1.1/customer/{path}?format={fmt}{query}", data=body,
                    content_type=MEDIA[fmt])
    return answer.status_code, decode(answer.data, fmt)["response"]


def get(c: FlaskClient, path: str, query: str, fmt: str = "json") -> tuple[int, dict]:
    answer = c.get(f"/v1.1/customer/{path}?format={fmt}&{query}")
    return answer.status_code, decode(answer.data, fmt)["response"]


def listed(value: Any) -> list[Any]:
    """A repeated element as a list (in XML one item is an object; the platform's JSON
    writes an array, one item or many)."""
    return value if isinstance(value, list) else [] if value in (None, "") else [value]


def code_of(item: dict[str, Any]) -> int:
    return int(item["item_status"]["code"])


def request_code(response: dict[str, Any]) -> int | None:
    """The request-level code (status.code) of an answer's `response`, in either format:
    a JSON number on the platform's wire, a string in XML and in the document's form."""
    return envelope.request_code({"response": response})


def outcome(status: int, response: dict[str, Any]) -> tuple[int, int | None]:
    """The HTTP status and the request-level code of an answer."""
    return status, request_code(response)


def empty_sandbox(**settings: Any) -> FlaskClient:
    """A sandbox without the document's customers (imported an empty sandbox file)."""
    c = sandbox(**settings)
    empty = {"format": "capmock-sandbox", "version": 1, "customers": []}
    assert c.post("/__capmock/sandbox/import", data=json.dumps(empty),
                  content_type=JSON).status_code == 200
    return c


def race(target: Callable[..., None], args: list[tuple[Any, ...]], timeout: float) -> list[Any]:
    """Run target(*args[i], start, results) in one forked process per entry of
    args; they wait at one barrier (start) so they begin together, and each
    puts one result on the queue. The results in the order they came; a child
    still alive afterwards is killed."""
    context = multiprocessing.get_context("fork")  # the children only speak HTTP or SQL
    start, results = context.Barrier(len(args)), context.Queue()
    children = [context.Process(target=target, args=(*each, start, results)) for each in args]
    for child in children:
        child.start()
    try:
        return [results.get(timeout=timeout) for _ in children]
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()

"""Deliberately broken variants of the mock server, for the conformance
suite's self-test: `Faulty(app, fault)` wraps the mock's WSGI app and breaks
one promise of the contract, named in `FAULTS` with the check expected to
catch it.

Each fault is one small function of the request and the mock's answer
(status, headers, body) returning the corrupted answer; it leaves alone
every answer it does not describe, so the other checks still pass where the
fault allows it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from capmock import fixtures
from capmock.openapi import contract, envelope
from capmock.openapi.codec import CodecError, data_to_json, data_to_xml, xml_to_data

Answer = tuple[int, Headers, bytes]
Fault = Callable[[Request, int, Headers, bytes], Answer]

FAULTS: dict[str, tuple[str, str]] = {
    "drop-item-status": ("json_conforms_to_schema",
                         "the required item_status is removed from every JSON item"),
    "letters-in-number": ("json_conforms_to_schema",
                          "lifetime_points (numeric) reads 'four hundred' in JSON"),
    "xml-for-json": ("format_is_honoured", "format=json is answered in XML"),
    "json-labelled-xml": ("format_is_honoured",
                          "a JSON body is labelled Content-Type application/xml"),
    "no-charset": ("format_is_honoured", "the Content-Type has no charset"),
    "undeclared-element": ("xml_conforms_to_xsd",
                           "an element the XSD does not declare inside <customer> (strict only)"),
    "truncated-xml": ("xml_conforms_to_xsd", "the XML body is cut in half (ill-formed)"),
    "foreign-item-code": ("envelope_is_coherent",
                          "item codes become 1303, a code of another operation"),
    "success-true-with-500": ("envelope_is_coherent",
                              "status.success is 'true' on a request-level 500"),
    "http-200-for-400": ("envelope_is_coherent",
                         "HTTP 200 for a request-level 400 (the mirror policy says 400)"),
    "201-all-failed": ("envelope_is_coherent",
                       "request-level 201 (HTTP 201) when every item failed"),
    "no-request-id": ("request_id_is_unique", "no X-Cap-Requestid header"),
    "constant-request-id": ("request_id_is_unique", "the same X-Cap-Requestid on every answer"),
    "reject-xml-bodies": ("documented_sample_is_accepted",
                          "every XML request body is answered with a request-level 400"),
    "identifier-free-success": ("errors_are_documented",
                                "a request without a customer identifier (documented answer: "
                                "item code 1015/1104) gets the documented 200 success"),
    "html-500-non-ascii": ("errors_are_documented",
                           "non-ASCII input gets HTTP 500 with an HTML error page"),
}

XML_TYPE = "application/xml; charset=utf-8"
OPERATIONS = {(op.method, op.path): op for op in contract.operations().values()}


# --- reading and writing bodies ------------------------------------------------------

def body_format(headers: Headers) -> str | None:
    media = headers.get("Content-Type", "").split(";")[0].strip()
    return "json" if media.endswith("json") else "xml" if media.endswith("xml") else None


def decode(headers: Headers, body: bytes) -> tuple[str | None, Any]:
    """(format, data) of an answer; (None, None) when it is neither JSON nor XML."""
    fmt = body_format(headers)
    try:
        if fmt == "json":
            return fmt, json.loads(body)
        if fmt == "xml":
            return fmt, xml_to_data(body)
    except (ValueError, CodecError):
        pass
    return None, None


def encode(fmt: str, data: Any) -> bytes:
    return data_to_json(data) if fmt == "json" else data_to_xml(data)


def nodes(data: Any, key: str) -> Iterable[dict[str, Any]]:
    """Every dict in `data` that has `key`."""
    if isinstance(data, dict):
        if key in data:
            yield data
        for value in data.values():
            yield from nodes(value, key)
    elif isinstance(data, list):
        for value in data:
            yield from nodes(value, key)


def status_of(data: Any) -> dict[str, Any]:
    response = data.get("response") if isinstance(data, dict) else None
    status = response.get("status") if isinstance(response, dict) else None
    return status if isinstance(status, dict) else {}


def edit(change: Callable[[Any], bool], only: str | None = None) -> Fault:
    """A fault that edits the body's data in place; `change` says whether it did."""
    def fault(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
        fmt, data = decode(headers, body)
        if fmt is None or (only and fmt != only) or not change(data):
            return status, headers, body
        return status, headers, encode(fmt, data)
    return fault


# --- body faults -----------------------------------------------------------------------

def drop_item_status(data: Any) -> bool:
    found = list(nodes(data, "item_status"))
    for node in found:
        del node["item_status"]
    return bool(found)


def letters_in_number(data: Any) -> bool:
    found = list(nodes(data, "lifetime_points"))
    for node in found:
        node["lifetime_points"] = "four hundred"
    return bool(found)


def foreign_item_code(data: Any) -> bool:
    found = [n["item_status"] for n in nodes(data, "item_status")
             if isinstance(n["item_status"], dict)]
    for item_status in found:
        item_status["code"] = "1303"  # customer_tickets_add: "ticket subject is empty"
    return bool(found)


def success_true_with_500(data: Any) -> bool:
    status = status_of(data)
    if str(status.get("code")) != "500":
        return False
    status["success"] = "true"
    return True


def all_failed_as_201(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    fmt, data = decode(headers, body)
    if fmt is None or str(status_of(data).get("code")) != "500":
        return status, headers, body
    status_of(data).update(envelope.status(201))
    return 201, headers, encode(fmt, data)


def xml_for_json(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    fmt, data = decode(headers, body)
    if fmt != "json":
        return status, headers, body
    headers["Content-Type"] = XML_TYPE
    return status, headers, data_to_xml(data)


def json_labelled_xml(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    if body_format(headers) == "json":
        headers["Content-Type"] = XML_TYPE
    return status, headers, body


def no_charset(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    headers["Content-Type"] = headers.get("Content-Type", "").split(";")[0]
    return status, headers, body


def undeclared_element(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    if body_format(headers) == "xml":
        body = body.replace(b"<customer>", b"<customer><surprise>yes</surprise>", 1)
    return status, headers, body


def truncated_xml(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    if body_format(headers) == "xml":
        body = body[: len(body) // 2]
    return status, headers, body


# --- status line and header faults ------------------------------------------------------

def http_200_for_400(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    return (200 if status == 400 else status), headers, body


def no_request_id(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    headers.remove("X-Cap-Requestid")
    return status, headers, body


def constant_request_id(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    headers["X-Cap-Requestid"] = "0" * 32
    return status, headers, body


# --- faults that react to the request ---------------------------------------------------

def reject_xml_bodies(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    if request.method != "POST" or not request.mimetype.endswith("xml"):
        return status, headers, body
    headers["Content-Type"] = XML_TYPE
    return 400, headers, data_to_xml(envelope.request_error(400))


def identifier_free_success(request: Request, status: int, headers: Headers,
                            body: bytes) -> Answer:
    """The mock's "no identifier" answer (1015/1104, all items failed) becomes the
    operation's documented success."""
    op = OPERATIONS.get((request.method, request.path))
    fmt, data = decode(headers, body)
    item_codes = {str(n["item_status"].get("code")) for n in nodes(data, "item_status")
                  if isinstance(n["item_status"], dict)}
    if op is None or fmt is None or not item_codes or not item_codes <= {"1015", "1104"}:
        return status, headers, body
    return 200, headers, fixtures.find(op.id, "default", "response", fmt).read_bytes()


def non_ascii(request: Request) -> bool:
    sent = unquote_to_bytes(request.query_string) + request.get_data()
    if request.mimetype.endswith("json"):
        with suppress(ValueError):  # JSON may escape non-ASCII characters as \uXXXX
            sent += json.dumps(json.loads(request.get_data()), ensure_ascii=False).encode()
    return any(byte > 127 for byte in sent)


def html_500_non_ascii(request: Request, status: int, headers: Headers, body: bytes) -> Answer:
    if not non_ascii(request):
        return status, headers, body
    headers["Content-Type"] = "text/html; charset=utf-8"
    return 500, headers, (b"<!doctype html><html><head><title>500 Internal Server Error</title>"
                          b"</head><body><h1>Internal Server Error</h1></body></html>")


CORRUPTIONS: dict[str, Fault] = {
    "drop-item-status": edit(drop_item_status, only="json"),
    "letters-in-number": edit(letters_in_number, only="json"),
    "xml-for-json": xml_for_json,
    "json-labelled-xml": json_labelled_xml,
    "no-charset": no_charset,
    "undeclared-element": undeclared_element,
    "truncated-xml": truncated_xml,
    "foreign-item-code": edit(foreign_item_code),
    "success-true-with-500": edit(success_true_with_500),
    "http-200-for-400": http_200_for_400,
    "201-all-failed": all_failed_as_201,
    "no-request-id": no_request_id,
    "constant-request-id": constant_request_id,
    "reject-xml-bodies": reject_xml_bodies,
    "identifier-free-success": identifier_free_success,
    "html-500-non-ascii": html_500_non_ascii,
}
assert CORRUPTIONS.keys() == FAULTS.keys()


class Faulty:
    """WSGI middleware: the wrapped app's answers, broken in the named way."""

    def __init__(self, app: Any, fault: str) -> None:
        if fault not in CORRUPTIONS:
            raise KeyError(f"unknown fault {fault!r}; choose from {', '.join(FAULTS)}")
        self.app = app
        self.fault = fault
        self.corrupt = CORRUPTIONS[fault]

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ, populate_request=False)
        sent = request.get_data()
        environ = {**environ, "wsgi.input": io.BytesIO(sent), "CONTENT_LENGTH": str(len(sent))}
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        answer = Response.from_app(self.app, environ, buffered=True)
        status, headers, body = self.corrupt(request, answer.status_code,
                                             Headers(answer.headers), answer.get_data())
        headers.remove("Content-Length")
        return Response(body, status=status, headers=headers)(environ, start_response)

"""The validation proxy: forward every request to an upstream server and check
both sides of the exchange against the contract, in JSON and in XML.

`create_app(upstream, profile, fail)` builds a Flask app that forwards the
method, path, query string, headers (less the hop-by-hop ones, Host and
Content-Length) and body to the upstream with one urllib3 PoolManager, reads the
whole answer (bodies are small: nothing is streamed) and checks:

- the request, by the contract layer's rules (capmock.openapi.routing and
  .validation, which the mock answers by): that it names an operation of the
  document, its query parameters against the parameters' schemas (undocumented
  parameters are ignored, as the platform ignores them; the cluster's batch
  limit is its own), and its body by Content-Type (sniffed when absent, as the
  platform does): JSON against the JSON Schema, XML against the XSD and then,
  read through the codec, against the JSON Schema (only when the XSD has no
  complaint, so one defect is not reported twice);
- the response: its body by Content-Type the same way, that the format the
  client asked for (`format=`, else Accept; nothing to check when neither
  names one) is the one answered, and that `X-Cap-Requestid` is present.

Every answer carries `X-Capmock-Violations: <count>` and, when there are any,
`X-Capmock-Violation: <the first one>` (ASCII, at most 300 characters); each
violation is logged once on the "capmock.proxy" logger and kept, the last 1000
of this worker process, at `GET /__capmock/violations` (JSON). CORS preflights
are forwarded without checks. Every other path, /__capmock/ included, is
forwarded and checked.

With `fail=True` (`capmock proxy --fail`) a request with violations, on either
side, is still forwarded (so the response side is checked and logged too), but
the client gets, instead of the upstream's answer, HTTP 502 with the Capillary
request-level envelope in the negotiated format: FACTS code 407 "Unknown Error"
(the platform's code for a failure it cannot name; FACTS has no gateway code),
its status.message replaced by the violations joined with "; ". 502 Bad Gateway
is the status line a gateway gives when what passes through it is not what it
should be; request-side violations get it too, so a client under test sees one
failure shape whatever side broke the contract. An unreachable upstream gets
the same 502 envelope, its message naming the upstream.

With `record=FILE` (`capmock proxy --record`), every exchange of a known
operation is also handed to the recorder (record.py), whatever its violations.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import urllib3
from flask import Flask, Response, jsonify, request

from capmock.mockserver.proxy.mask import Masker, new_key
from capmock.mockserver.proxy.record import Recorder, table
from capmock.openapi import contract, envelope, negotiation, routing, validation
from capmock.openapi.codec import CodecError, data_to_json, data_to_xml, parse_xml, xml_to_data

LOG = logging.getLogger("capmock.proxy")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
VIOLATIONS_PATH = "/__capmock/violations"
KEEP = 1000
HEADER_LIMIT = 300
BAD_GATEWAY = 502
ENVELOPE_CODE = 407
POOL_SIZE = 32  # one connection per serving thread (granian blocking threads)
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
NOT_FORWARDED = frozenset({"host", "content-length"})
NOT_RETURNED = frozenset({"content-length", "content-encoding"})  # the body is decoded
MEDIA = negotiation.MEDIA
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


# --- values ------------------------------------------------------------------------

@dataclass(frozen=True)
class Exchange:
    """One request as received, or one answer as the upstream gave it."""

    headers: list[tuple[str, str]]
    body: bytes
    method: str = ""
    path: str = ""
    query_string: str = ""
    status: int = 0

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    @property
    def query(self) -> list[tuple[str, str]]:
        """Query parameters in order; '+' decodes to a space, as the platform reads it."""
        return parse_qsl(self.query_string, keep_blank_values=True)


@dataclass(frozen=True)
class Violation:
    """One way an exchange breaks the contract."""

    operation: str  # operationId, or "METHOD /path" when no operation matches
    side: str  # request | response
    message: str

    def line(self) -> str:
        """`side: message`, as in the header and the 502 envelope."""
        return f"{self.side}: {self.message}"


# --- the request: routing and validation are the contract layer's ------------------------

REPORTED = frozenset({"invalid", "invalid_field", validation.REFUSED})
NO_LIMIT = sys.maxsize  # the cluster's batch limit is its own configuration, not the contract's
MAX_DEPTH = 64  # the codec's default nesting limit


def query_line(problem: validation.Problem) -> str:
    """A query problem as the proxy reports it: `query <name>: <reason>`."""
    return problem.message if problem.message.startswith("query") else f"query {problem.message}"


def query_violations(op: contract.Operation, query: list[tuple[str, str]]) -> list[str]:
    """Missing required parameters and values that break their schema (or that both
    formats cannot carry); undocumented parameters pass, as the platform ignores them."""
    found = validation.required_problems(op, query) + [
        p for p in validation.query_problems(op, query, NO_LIMIT) if p.kind in REPORTED]
    return [query_line(p) for p in found]


def request_body_violations(op: contract.Operation, message: Exchange,
                            profile: str) -> list[str]:
    """The request body by its Content-Type (sniffed when it names none): read, then
    XML against the XSD and, only if the XSD has no complaint (one defect is not
    reported twice), against the JSON Schema; JSON against the JSON Schema."""
    try:
        fmt = negotiation.body_format(message.header("content-type"), message.body)
    except negotiation.NegotiationError as error:
        return [str(error)]
    body = validation.read_body(message.body, fmt, MAX_DEPTH)
    if isinstance(body, validation.Problem):
        return [body.message]
    xsd = [] if body.xml is None else contract.xml_errors(op.id, "request", body.xml, profile)
    return xsd or [p.message for p in validation.schema_problems(op, body.data, profile)]


# --- the response --------------------------------------------------------------------

def json_body_violations(operation: str, role: str, body: bytes, profile: str,
                         wire: str | None = None) -> list[str]:
    """Under the strict profile, with `wire`, also where the JSON differs from that
    wire's form (capmock.openapi.wire: platform or document)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        return [f"malformed JSON: {error}"]
    return contract.json_errors(operation, role, data, profile, wire)


def xml_body_violations(operation: str, role: str, body: bytes, profile: str,
                        wire: str | None = None) -> list[str]:
    """`wire` is JSON's only: the XML has one form."""
    try:
        root = parse_xml(body)
        data = xml_to_data(root)
    except CodecError as error:
        return [str(error)]
    return (contract.xml_errors(operation, role, root, profile)
            or contract.json_errors(operation, role, data, profile))


BODY_CHECKS: dict[str, Callable[[str, str, bytes, str, str | None], list[str]]] = {
    "json": json_body_violations, "xml": xml_body_violations}


def body_violations(operation: str, role: str, message: Exchange, profile: str,
                    wire: str | None = None) -> list[str]:
    """A response body checked by its Content-Type (an answer is never sniffed)."""
    content_type = message.header("content-type")
    fmt = negotiation.content_format(content_type)
    if fmt is None:
        return [f"Content-Type {content_type!r} is neither JSON nor XML"]
    if not message.body.strip():
        return ["the body is empty"]
    return BODY_CHECKS[fmt](operation, role, message.body, profile, wire)


# --- the two sides -----------------------------------------------------------------

def request_violations(op: contract.Operation | None, incoming: Exchange,
                       profile: str) -> list[str]:
    """Everything wrong with the request."""
    if op is None:
        return [f"unknown operation: {incoming.method} {incoming.path} is not in the contract"]
    out = query_violations(op, incoming.query)
    if "request" in op.body_schemas:
        out += request_body_violations(op, incoming, profile)
    return out


def asked_format(incoming: Exchange) -> tuple[str, str] | None:
    """(format, how it was asked), by the contract's negotiation rules
    (`format=` wins over Accept); None if neither says."""
    accept = incoming.header("accept")
    fmt = negotiation.asked_format(incoming.query, accept)
    if fmt is None:
        return None
    given = next((v for n, v in incoming.query if n == "format"), None)
    if given is not None and given.lower() == fmt:
        return fmt, f"format={given}"
    return fmt, f"Accept: {accept}"


def format_violations(incoming: Exchange, answer: Exchange) -> list[str]:
    asked = asked_format(incoming)
    content_type = answer.header("content-type")
    if asked is None or negotiation.content_format(content_type) == asked[0]:
        return []
    return [f"{asked[1]} asked for {asked[0]} but the response Content-Type is "
            f"{content_type or '(absent)'}"]


def response_violations(op: contract.Operation | None, incoming: Exchange, answer: Exchange,
                        profile: str, wire: str | None = None) -> list[str]:
    """Everything wrong with the upstream's answer (its JSON judged on `wire` too,
    under the strict profile)."""
    out = [] if op is None else body_violations(op.id, "response", answer, profile, wire)
    out += format_violations(incoming, answer)
    if not answer.header("x-cap-requestid"):
        out.append("X-Cap-Requestid header is missing")
    return out


def guarded(check: Callable[..., list[str]], *args: Any) -> list[str]:
    """A check's findings; a crash in capmock is itself reported, never raised."""
    try:
        return check(*args)
    except Exception as error:
        LOG.exception("capmock could not run %s", check.__name__)
        return [f"capmock could not check this ({type(error).__name__}: {error})"]


# --- rendering ---------------------------------------------------------------------

def printable(text: str) -> str:
    """The text without control characters (newlines become spaces)."""
    return CONTROL.sub(" ", text)


def header_safe(text: str, limit: int = HEADER_LIMIT) -> str:
    """ASCII (escaped), one line, at most `limit` characters."""
    ascii_text = printable(text).encode("ascii", "backslashreplace").decode("ascii")
    return ascii_text if len(ascii_text) <= limit else ascii_text[: limit - 3] + "..."


def envelope_response(message: str, fmt: str, request_id: str | None = None) -> Response:
    """HTTP 502 with the FACTS 407 envelope, status.message set to `message`."""
    body = envelope.request_error(ENVELOPE_CODE)
    body["response"]["status"]["message"] = printable(message)
    data = data_to_xml(body) if fmt == "xml" else data_to_json(body)
    headers = {"X-Cap-Requestid": request_id} if request_id else {}
    return Response(data, status=BAD_GATEWAY, content_type=MEDIA[fmt], headers=headers)


def passthrough(answer: Exchange) -> Response:
    """The upstream's answer as it came (its body decoded if it was compressed)."""
    response = Response(answer.body, status=answer.status)
    del response.headers["Content-Type"]
    for name, value in answer.headers:
        if name.lower() not in HOP_BY_HOP | NOT_RETURNED:
            response.headers.add(name, value)
    return response


def mark(response: Response, violations: list[Violation]) -> Response:
    """Add the X-Capmock-Violations and X-Capmock-Violation headers."""
    response.headers["X-Capmock-Violations"] = str(len(violations))
    if violations:
        response.headers["X-Capmock-Violation"] = header_safe(violations[0].line())
    return response


# --- the proxy ---------------------------------------------------------------------

@dataclass
class Proxy:
    """The settings, the connection pool and the recent violations of one worker."""

    upstream: str
    profile: str = "lenient"
    fail: bool = False
    timeout: float = 30.0
    recorder: Recorder | None = None
    wire: str = "platform"  # the JSON form the answers are judged against under strict
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=KEEP))
    lock: threading.Lock = field(init=False, repr=False)
    pool: urllib3.PoolManager = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.profile not in contract.PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; use one of "
                             f"{', '.join(contract.PROFILES)}")
        self.upstream = self.upstream.rstrip("/")
        self.lock = threading.Lock()
        self.pool = urllib3.PoolManager(maxsize=POOL_SIZE, retries=False,
                                        timeout=urllib3.Timeout(connect=5, read=self.timeout))

    def forward(self, incoming: Exchange) -> Exchange:
        """Send the request upstream and read the whole answer (urllib3 errors propagate)."""
        url = self.upstream + quote(incoming.path, safe="/:@!$&'()*+,;=-._~%")
        if incoming.query_string:
            url += "?" + incoming.query_string
        headers = urllib3.HTTPHeaderDict()
        for name, value in forwarded_headers(incoming.headers):
            headers.add(name, value)
        reply = self.pool.request(incoming.method, url, body=incoming.body or None,
                                  headers=headers, redirect=False)
        return Exchange(list(reply.headers.iteritems()), reply.data, status=reply.status)

    def record(self, incoming: Exchange, violations: list[Violation]) -> None:
        """Log each violation and keep it in the recent list."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        for v in violations:
            LOG.warning("%s %s: %s", v.operation, v.side, v.message)
        entries = [{"time": stamp, "method": incoming.method, "path": incoming.path,
                    "query": incoming.query_string, "operation": v.operation, "side": v.side,
                    "message": v.message} for v in violations]
        with self.lock:
            self.recent.extend(entries)

    def snapshot(self) -> list[dict[str, Any]]:
        """The recent violations, oldest first."""
        with self.lock:
            return list(self.recent)

    def close(self) -> None:
        """Close the upstream connections; write the recording."""
        self.pool.clear()
        if self.recorder is not None:
            self.recorder.close()


def forwarded_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The request headers less the hop-by-hop ones (and those named by Connection)."""
    named = {h.strip().lower() for k, v in headers if k.lower() == "connection"
             for h in v.split(",")}
    dropped = HOP_BY_HOP | NOT_FORWARDED | named
    return [(k, v) for k, v in headers if k.lower() not in dropped]


def violations_of(op: contract.Operation | None, incoming: Exchange, side: str,
                  messages: list[str]) -> list[Violation]:
    name = op.id if op else f"{incoming.method} {incoming.path}"
    return [Violation(name, side, m) for m in messages]


def is_preflight(incoming: Exchange) -> bool:
    return incoming.method == "OPTIONS" and incoming.header("access-control-request-method") \
        is not None


def unreachable(proxy: Proxy, incoming: Exchange, error: Exception) -> Response:
    """The 502 envelope for an upstream that gave no answer, naming it and why."""
    reason = str(error).split(": ", 1)[-1]  # urllib3 puts the connection's repr first
    message = f"upstream {proxy.upstream} is unreachable: {reason}"
    LOG.error("%s", message)
    return envelope_response(message, (asked_format(incoming) or ("json", ""))[0])


def relay(proxy: Proxy, incoming: Exchange) -> Response:
    """Forward without checks (CORS preflights)."""
    try:
        return mark(passthrough(proxy.forward(incoming)), [])
    except urllib3.exceptions.HTTPError as error:
        return unreachable(proxy, incoming, error)


def answer(proxy: Proxy, incoming: Exchange, upstream: Exchange,
           violations: list[Violation]) -> Response:
    """The upstream's answer, or with --fail and violations, the 502 envelope."""
    if not (proxy.fail and violations):
        return passthrough(upstream)
    fmt = (asked_format(incoming) or ("json", ""))[0]
    message = "; ".join(v.line() for v in violations)
    return envelope_response(message, fmt, upstream.header("x-cap-requestid"))


def handle(proxy: Proxy, incoming: Exchange) -> Response:
    """Check the request, forward it, check the answer, report."""
    if is_preflight(incoming):
        return relay(proxy, incoming)
    op = routing.find_operation(incoming.method, incoming.path)
    found = violations_of(op, incoming, "request",
                          guarded(request_violations, op, incoming, proxy.profile))
    try:
        upstream = proxy.forward(incoming)
    except urllib3.exceptions.HTTPError as error:
        proxy.record(incoming, found)
        return mark(unreachable(proxy, incoming, error), found)
    found += violations_of(op, incoming, "response",
                           guarded(response_violations, op, incoming, upstream, proxy.profile,
                                   proxy.wire))
    proxy.record(incoming, found)
    if proxy.recorder is not None and op is not None:
        proxy.recorder.observe(op.id, incoming.method, incoming.path, incoming.query_string,
                               incoming.query, (incoming.body, incoming.header("content-type")),
                               upstream.status, (upstream.body, upstream.header("content-type")))
    return mark(answer(proxy, incoming, upstream, found), found)


def incoming_request() -> Exchange:
    """The Flask request as an Exchange."""
    return Exchange(method=request.method, path=request.path,
                    query_string=request.query_string.decode("latin-1"),
                    headers=list(request.headers.items()), body=request.get_data(cache=False))


def recorder_of(record: str | None, record_examples: str | None, mask: bool,
                mask_seed: str | None, interval: float) -> Recorder | None:
    """The recorder `--record` asks for (started: it has written the empty file), or None."""
    if record is None:
        return None
    masker = Masker(new_key(mask_seed), table()["mask"]) if mask else None
    return Recorder(record, record_examples, masker, interval).start()


def create_app(upstream: str, profile: str = "lenient", fail: bool = False,
               timeout: float = 30.0, record: str | None = None,
               record_examples: str | None = None, mask: bool = False,
               mask_seed: str | None = None, record_interval: float = 2.0,
               wire: str = "platform") -> Flask:
    """The proxy's WSGI app; app.extensions["capmock_proxy"] holds the Proxy (close it).
    With `record` (a path), what passes through is recorded (record.py)."""
    proxy = Proxy(upstream, profile, fail, timeout,
                  recorder_of(record, record_examples, mask, mask_seed, record_interval), wire)
    app = Flask(__name__)

    def view(path: str = "") -> Response:
        return handle(proxy, incoming_request())

    app.add_url_rule(VIOLATIONS_PATH, "violations", lambda: jsonify(proxy.snapshot()),
                     methods=["GET"])
    app.add_url_rule("/", "proxy_root", view, methods=METHODS, provide_automatic_options=False)
    app.add_url_rule("/<path:path>", "proxy", view, methods=METHODS,
                     provide_automatic_options=False)
    app.extensions["capmock_proxy"] = proxy
    return app

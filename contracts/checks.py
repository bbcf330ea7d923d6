"""capmock's conformance checks, registered in schemathesis's own check
registry (`@schemathesis.check`), each named after the property it verifies.

Every failure message names the operation, the format and what differed;
the runner adds the request as a curl line. The checks read the run's
settings (profile, status policy) from `active`, set by the runner or the
pytest plugin before a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import schemathesis
from schemathesis.generation import GenerationMode

from capmock.contracts.invalidity import request_is_invalid
from capmock.openapi import codes, contract
from capmock.openapi.codec import CodecError, data_to_xml, parse_xml, xml_to_data

REQUEST_LEVEL_SUCCESS = ("200", "201", "500")  # codes whose body carries the operation's items
NAMES = (
    "json_conforms_to_schema",
    "xml_conforms_to_xsd",
    "format_is_honoured",
    "envelope_is_coherent",
    "request_id_is_unique",
    "documented_sample_is_accepted",
    "errors_are_documented",
)


@dataclass
class RunSettings:
    """What the checks need to know about the run."""

    profile: str = "lenient"
    http_status: str = "mirror"  # or "always-200"


active = RunSettings()


# --- helpers ---------------------------------------------------------------------

def operation_of(case: Any) -> contract.Operation:
    label = case.operation.definition.raw.get("operationId") if hasattr(
        case.operation, "definition") else None
    if label in contract.operations():
        return contract.operations()[label]
    return next(op for op in contract.operations().values()
                if op.method == case.method.upper() and op.path == case.path)


def header(response: Any, name: str) -> str | None:
    values = response.headers.get(name.lower())
    if isinstance(values, list):
        return values[0] if values else None
    return values


def response_format(response: Any) -> str | None:
    media = (header(response, "content-type") or "").split(";")[0].strip().lower()
    if media.endswith("json"):
        return "json"
    if media.endswith("xml"):
        return "xml"
    return None


def asked_format(case: Any) -> str | None:
    """The format the request asked for: format= wins over Accept (FACTS)."""
    fmt = (case.query or {}).get("format")
    if fmt in ("json", "xml"):
        return fmt
    accept = str((case.headers or {}).get("Accept", "")).lower()
    if "xml" in accept:
        return "xml"
    if "json" in accept:
        return "json"
    return None


def body_data(response: Any) -> dict[str, Any] | None:
    """The body as JSON-like data in either format, or None if unreadable."""
    try:
        if response_format(response) == "json":
            return json.loads(response.content)
        if response_format(response) == "xml":
            return xml_to_data(response.content)
    except (ValueError, CodecError):
        return None
    return None


def where(case: Any) -> str:
    return f"{case.method.upper()} {case.path} ({asked_format(case) or 'default format'})"


def fail(case: Any, message: str) -> None:
    raise AssertionError(f"{where(case)}: {message}")


def status_block(data: dict[str, Any] | None) -> dict[str, Any]:
    response = data.get("response") if isinstance(data, dict) else None
    status = response.get("status") if isinstance(response, dict) else None
    return status if isinstance(status, dict) else {}


def schema_for(op: contract.Operation, data: dict[str, Any] | None) -> str:
    """The operation's response schema, or the bare envelope of a request-level error."""
    code = str(status_block(data).get("code", ""))
    return op.body_schemas["response"] if code in REQUEST_LEVEL_SUCCESS else "ErrorEnvelopeBody"


# --- 1. JSON bodies ----------------------------------------------------------------

@schemathesis.check
def json_conforms_to_schema(ctx: Any, response: Any, case: Any) -> None:
    """A JSON response conforms to the operation's schema (profile-aware)."""
    if response_format(response) != "json":
        return
    try:
        data = json.loads(response.content)
    except ValueError as error:
        fail(case, f"JSON response is not valid JSON: {error}")
    op = operation_of(case)
    validator = contract.json_validator(schema_for(op, data), active.profile)
    errors = [contract.describe(e) for e in validator.iter_errors(data)]
    if errors:
        fail(case, f"JSON body violates the {active.profile} schema: " + "; ".join(errors[:3]))


# --- 2. XML bodies -----------------------------------------------------------------

@schemathesis.check
def xml_conforms_to_xsd(ctx: Any, response: Any, case: Any) -> None:
    """An XML response is well-formed and valid against the operation's XSD."""
    if response_format(response) != "xml":
        return
    try:
        root = parse_xml(response.content)
        data = xml_to_data(root)
    except CodecError as error:
        fail(case, f"XML response is not well-formed: {error}")
    op = operation_of(case)
    errors = contract.xml_errors(op.id, "response", root, active.profile)
    if not errors:  # what XSD 1.0 cannot say (e.g. any-order content) the JSON schema does
        errors = contract.json_errors_for(schema_for(op, data), data, active.profile)
    if errors:
        fail(case, f"XML body violates the {active.profile} contract: " + "; ".join(errors[:3]))


# --- 3. format ---------------------------------------------------------------------

@schemathesis.check
def format_is_honoured(ctx: Any, response: Any, case: Any) -> None:
    """format= (else Accept) decides the response format; body and Content-Type agree."""
    wanted, got = asked_format(case), response_format(response)
    if got is None:
        fail(case, f"Content-Type {header(response, 'content-type')!r} is neither JSON nor XML")
    if wanted is not None and got != wanted:
        fail(case, f"asked for {wanted}, got {got} ({header(response, 'content-type')})")
    looks_xml = response.content.lstrip()[:1] == b"<"
    if looks_xml != (got == "xml"):
        fail(case, f"Content-Type says {got} but the body is "
                   f"{'XML' if looks_xml else 'not XML'}")
    if "charset" not in (header(response, "content-type") or "").lower():
        fail(case, "Content-Type has no charset")


# --- 4. envelope -------------------------------------------------------------------

def item_statuses(op: contract.Operation, data: dict[str, Any]) -> list[dict[str, Any]]:
    node: Any = data.get("response", {})
    for key in op.item:
        node = node.get(key) if isinstance(node, dict) else None
    items = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
    return [i["item_status"] for i in items
            if isinstance(i, dict) and isinstance(i.get("item_status"), dict)]


def envelope_problems(op: contract.Operation, data: dict[str, Any], http: int) -> list[str]:
    status = status_block(data)
    code = str(status.get("code", ""))
    known = codes.request_codes()
    if not code.isdigit() or int(code) not in known:
        return [f"request-level code {code!r} is not in the platform's table"]
    problems = []
    expected_success = "true" if known[int(code)].success else "false"
    if str(status.get("success")) != expected_success:
        problems.append(f"status.success is {status.get('success')!r} for code {code}")
    problems += item_problems(op, code, item_statuses(op, data))
    wanted_http = 200 if active.http_status == "always-200" else int(code)
    if http != wanted_http:
        problems.append(f"HTTP {http} for request-level {code} ({active.http_status} policy)")
    return problems


def item_problems(op: contract.Operation, code: str, statuses: list[dict]) -> list[str]:
    problems = [f"item code {s.get('code')} is not a code of {op.id}"
                for s in statuses if not str(s.get("code", "")).isdigit()
                or int(s["code"]) not in op.codes]
    failed = [s for s in statuses if str(s.get("success")) == "false"]
    if statuses and code in REQUEST_LEVEL_SUCCESS:
        expected = "500" if len(failed) == len(statuses) else "201" if failed else "200"
        if code != expected:
            problems.append(f"{len(failed)} of {len(statuses)} items failed but the "
                            f"request-level code is {code}, expected {expected}")
    return problems


@schemathesis.check
def envelope_is_coherent(ctx: Any, response: Any, case: Any) -> None:
    """Request-level code from the FACTS table, success agrees with it, item codes
    from the code table, 201 exactly when some but not all items fail, and the
    HTTP status follows the status policy."""
    data = body_data(response)
    if data is None:
        return  # unreadable bodies are reported by the format and schema checks
    problems = envelope_problems(operation_of(case), data, response.status_code)
    if problems:
        fail(case, "; ".join(problems))


# --- 5. request ids ------------------------------------------------------------------

@schemathesis.check
class request_id_is_unique:  # named after the property it verifies, like the functions
    """Every response carries an X-Cap-Requestid, never seen before in the run."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def after_response(self, ctx: Any, response: Any, case: Any) -> None:
        request_id = header(response, "x-cap-requestid")
        if not request_id:
            fail(case, "no X-Cap-Requestid header")
        first = self.seen.setdefault(request_id, case.id)
        if first != case.id:
            fail(case, f"X-Cap-Requestid {request_id} was already used")


# --- 6 and 7. documented samples and negative cases --------------------------------

def phase_and_mode(case: Any) -> tuple[str, str]:
    meta = case.meta
    if meta is None:
        return "", ""
    return str(meta.phase.name.value), str(meta.generation.mode.value)


NOT_FOUND = {"1011", "1012", "1013", "1020"}  # a real server need not know the sample's customer


@schemathesis.check
def documented_sample_is_accepted(ctx: Any, response: Any, case: Any) -> None:
    """A request built from the document's own samples is accepted: no
    request-level rejection (400-408), and any failing item fails only because
    the server does not know the sample's customer."""
    phase, mode = phase_and_mode(case)
    if phase != "examples" or mode != GenerationMode.POSITIVE.value:
        return
    data = body_data(response)
    code = str(status_block(data).get("code", ""))
    if code not in REQUEST_LEVEL_SUCCESS:
        fail(case, f"a documented sample was answered with request-level code {code or '?'}")
    refused = [str(s.get("code")) for s in item_statuses(operation_of(case), data or {})
               if str(s.get("success")) == "false" and str(s.get("code")) not in NOT_FOUND]
    if refused:
        fail(case, f"a documented sample was refused with item code(s) {', '.join(refused)}")


@schemathesis.check
def errors_are_documented(ctx: Any, response: Any, case: Any) -> None:
    """A request the contract rejects gets a documented error: never a success,
    never an undocumented 5xx (a 500 must be the documented all-items-failed
    envelope). Any answer with an HTTP 5xx must carry that envelope."""
    data = body_data(response)
    code = str(status_block(data).get("code", ""))
    if response.status_code >= 500 and code != "500":
        fail(case, f"HTTP {response.status_code} without the documented envelope")
    # Judging the request costs a validation: only a success needs it.
    if code == "200" and case.method.upper() in ("GET", "POST") and invalid(case):
        fail(case, "a request the contract rejects was answered with request-level 200")


def invalid(case: Any) -> bool:
    try:
        return request_is_invalid(operation_of(case), case)
    except StopIteration:
        return False


@schemathesis.serializer("application/xml")
def xml_body(ctx: Any, value: Any) -> bytes:
    """Send XML request bodies the platform's way: the generated data is the
    content of <root>, rendered by capmock's codec (one element per item)."""
    try:
        return data_to_xml({"root": value})
    except CodecError:
        return str(value).encode("utf-8")  # invalid data that XML cannot hold, sent as is

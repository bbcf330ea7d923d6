"""capmock's conformance checks, registered in schemathesis's own check
registry (`@schemathesis.check`), each named after the property it verifies.

Every failure message names the operation, the format and what differed;
the runner adds the request as a curl line.

The run's settings reach every check through schemathesis itself: the runner
builds one `RunSettings` per run and puts it in the configuration section of
each capmock check (`[checks.<name>]`, schemathesis's `custom_kwargs`).
schemathesis hands class-based checks that section as `__init__` arguments
and function checks their `ctx.config`, so `settings_of(ctx, name)` finds it,
and two runs in one process never see each other's settings. A direct call
(a test, the directed workflows) may pass a RunSettings as `ctx`.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, NoReturn

import schemathesis
import yaml
from schemathesis.generation import GenerationMode

from capmock.contracts.invalidity import request_is_invalid
from capmock.contracts.options import STATEFUL_CHECKS, STATELESS_CHECKS, Options
from capmock.openapi import codes, contract, negotiation
from capmock.openapi import wire as wires
from capmock.openapi.codec import CodecError, data_to_xml, parse_xml, xml_to_data

REQUEST_LEVEL_SUCCESS = ("200", "201", "500")  # codes whose body carries the operation's items
SETTINGS = "settings"  # the key of the run's settings in each check's config section


@dataclass
class RunSettings:
    """One run's settings (its Options) and what its checks did not judge.

    A check that finds nothing to judge in a response (the XSD check on a JSON
    body, a read-back check on a customer the run never registered) says why
    through `not_judged` and returns True, which schemathesis takes as "skip"
    (no success is recorded): a cell is `ok` only for responses it judged."""

    options: Options = field(default_factory=Options)
    unjudged: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_unjudged(self) -> dict[tuple[str, str], Counter[str]]:
        """The reasons recorded since the last call, by (operation, check); cleared."""
        with self.lock:
            taken, self.unjudged = self.unjudged, {}
        return taken

    def not_judged(self, case: Any, check: str, reason: str) -> bool:
        """Record that `check` judged nothing in this response, and why; True (skip)."""
        try:
            operation = operation_of(case).id
        except StopIteration:
            return True
        with self.lock:
            self.unjudged.setdefault((operation, check), Counter())[reason] += 1
        return True

    def carry(self, config: Any, names: list[str]) -> None:
        """Put these settings in the config section of each named capmock check
        (schemathesis's ChecksConfig), where `settings_of` finds them."""
        for name in names:
            if name in CAPMOCK_CHECKS:
                config.custom_kwargs[name] = {SETTINGS: self}


CAPMOCK_CHECKS = (*STATELESS_CHECKS, *STATEFUL_CHECKS)


def settings_of(ctx: Any, check: str) -> RunSettings:
    """The run's settings from a check's context (or the RunSettings itself; a
    context without them, as a bare call with None, gets the defaults)."""
    if isinstance(ctx, RunSettings):
        return ctx
    config = getattr(ctx, "config", None)
    section = getattr(config, "custom_kwargs", {}).get(check, {})
    found = section.get(SETTINGS)
    return found if isinstance(found, RunSettings) else RunSettings()


# --- helpers ---------------------------------------------------------------------

def operation_of(case: Any) -> contract.Operation:
    label = case.operation.definition.raw.get("operationId") if hasattr(
        case.operation, "definition") else None
    if label in contract.operations():
        return contract.operations()[label]
    return next(op for op in contract.operations().values()
                if op.method == case.method.upper() and op.path == case.path)


def guarded(check: Callable[..., bool | None]) -> Callable[..., bool | None]:
    """A check never crashes the run: whatever a foreign answer makes it trip
    over becomes a finding of that check, naming the exception."""
    @functools.wraps(check)
    def run(*args: Any) -> bool | None:
        try:
            return check(*args)
        except AssertionError:
            raise
        except Exception as error:
            case = args[-1]
            fail(case, f"capmock could not judge this response ({type(error).__name__}: "
                       f"{error})")
        return None
    return run


def check(judge: Callable[[RunSettings, Any, Any], bool | None]) -> Callable[..., bool | None]:
    """Register a function check with schemathesis, guarded, under its own name;
    the function gets the run's settings (from `ctx`) instead of the context."""
    name = judge.__name__

    @functools.wraps(judge)
    def registered(ctx: Any, response: Any, case: Any) -> bool | None:
        return judge(settings_of(ctx, name), response, case)
    return schemathesis.check(guarded(registered))


def header(response: Any, name: str) -> str | None:
    values = response.headers.get(name.lower())
    if isinstance(values, list):
        return values[0] if values else None
    return values


def response_format(response: Any) -> str | None:
    """json or xml by the response's Content-Type (the contract's negotiation rules)."""
    return negotiation.content_format(header(response, "content-type"))


def query_pairs(query: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(name, str(v)) for name, value in (query or {}).items()
            for v in (value if isinstance(value, list) else [value])]


def case_header(case: Any, name: str) -> str | None:
    return next((str(v) for k, v in (case.headers or {}).items() if k.lower() == name), None)


def asked_format(case: Any) -> str | None:
    """The format the request asked for: format= wins over Accept (FACTS), read by
    the same code as the mock and the proxy read it."""
    return negotiation.asked_format(query_pairs(case.query), case_header(case, "accept"))


def body_data(response: Any) -> Any:
    """The body as JSON-like data in either format, or None if unreadable.
    JSON may be any value (a foreign server may answer a bare string)."""
    try:
        if response_format(response) == "json":
            return json.loads(response.content)
        if response_format(response) == "xml":
            return xml_to_data(response.content)
    except (ValueError, CodecError, RecursionError):
        return None
    return None


def where(case: Any) -> str:
    return f"{case.method.upper()} {case.path} ({asked_format(case) or 'default format'})"


def fail(case: Any, message: str) -> NoReturn:
    raise AssertionError(f"{where(case)}: {message}")


def status_block(data: Any) -> dict[str, Any]:
    response = data.get("response") if isinstance(data, dict) else None
    status = response.get("status") if isinstance(response, dict) else None
    return status if isinstance(status, dict) else {}


def schema_for(op: contract.Operation, data: Any) -> str:
    """The operation's response schema, or the bare envelope of a request-level error."""
    code = str(status_block(data).get("code", ""))
    return op.body_schemas["response"] if code in REQUEST_LEVEL_SUCCESS else "ErrorEnvelopeBody"


# --- 1 and 2. JSON and XML bodies ------------------------------------------------

def body_problems(run: RunSettings, case: Any, fmt: str, content: bytes) -> list[str]:
    """What the body breaks of the operation's contract in `fmt` (profile-aware):
    JSON by its schema; XML by its XSD, then by the JSON schema for what XSD 1.0
    cannot say (e.g. any-order content). Unreadable bodies fail here."""
    op, profile = operation_of(case), run.options.profile
    try:
        root = parse_xml(content) if fmt == "xml" else None
        data = xml_to_data(root) if root is not None else json.loads(content)
    except (ValueError, RecursionError, CodecError) as error:
        fail(case, f"{fmt.upper()} response is not "
                   f"{'well-formed' if fmt == 'xml' else 'valid JSON'}: {error}")
    errors = contract.xml_errors(op.id, "response", root, profile) if root is not None else []
    # json_errors_for asks jsonschema-rs first: a valid body costs microseconds; a JSON
    # body is also judged against the run's wire (strict profile only, contract.py)
    wire = run.options.wire if root is None else None
    return errors or contract.json_errors_for(schema_for(op, data), data, profile, wire)


def body_conforms(run: RunSettings, response: Any, case: Any, fmt: str,
                  name: str) -> bool | None:
    if response_format(response) != fmt:
        return run.not_judged(case, name, f"no {fmt.upper()} body came back")
    errors = body_problems(run, case, fmt, response.content)
    if errors:
        what = "schema" if fmt == "json" else "contract"
        fail(case, f"{fmt.upper()} body violates the {run.options.profile} {what}: "
                   + "; ".join(errors[:3]))
    return None


@check
def json_conforms_to_schema(run: RunSettings, response: Any, case: Any) -> bool | None:
    """A JSON response conforms to the operation's schema (profile-aware)."""
    return body_conforms(run, response, case, "json", "json_conforms_to_schema")


@check
def xml_conforms_to_xsd(run: RunSettings, response: Any, case: Any) -> bool | None:
    """An XML response is well-formed and valid against the operation's XSD."""
    return body_conforms(run, response, case, "xml", "xml_conforms_to_xsd")


# --- 3. format ---------------------------------------------------------------------

@check
def format_is_honoured(run: RunSettings, response: Any, case: Any) -> None:
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

def item_statuses(op: contract.Operation, data: Any) -> list[dict[str, Any]]:
    """The item_status blocks of the operation's items (none if the shape is foreign)."""
    node: Any = data.get("response") if isinstance(data, dict) else None
    for key in op.item:
        node = node.get(key) if isinstance(node, dict) else None
    items = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
    return [i["item_status"] for i in items
            if isinstance(i, dict) and isinstance(i.get("item_status"), dict)]


def wanted_http(run: RunSettings, code: str) -> int:
    """The HTTP status the run's status policy expects for a request-level code."""
    return wires.http_status(run.options.http_status, int(code))


def envelope_problems(run: RunSettings, op: contract.Operation, data: Any,
                      http: int) -> list[str]:
    status = status_block(data)
    code = str(status.get("code", ""))
    known = codes.request_codes()
    if not status:
        return ["the body has no response.status block"]
    if not code.isdigit() or int(code) not in known:
        return [f"request-level code {code!r} is not in the platform's table"]
    problems = []
    expected_success = "true" if known[int(code)].success else "false"
    if str(status.get("success")) != expected_success:
        problems.append(f"status.success is {status.get('success')!r} for code {code}")
    problems += item_problems(op, code, item_statuses(op, data))
    if http != wanted_http(run, code):
        problems.append(f"HTTP {http} for request-level {code} "
                        f"({run.options.http_status} policy)")
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


@check
def envelope_is_coherent(run: RunSettings, response: Any, case: Any) -> bool | None:
    """Request-level code from the FACTS table, success agrees with it, item codes
    from the code table, 201 exactly when some but not all items fail, and the
    HTTP status follows the status policy."""
    data = body_data(response)
    if data is None:  # reported by the format and schema checks
        return run.not_judged(case, "envelope_is_coherent", "the body is neither readable "
                                                            "JSON nor XML")
    problems = envelope_problems(run, operation_of(case), data, response.status_code)
    if problems:
        fail(case, "; ".join(problems))
    return None


# --- 5. request ids ------------------------------------------------------------------

@schemathesis.check
class request_id_is_unique:  # named after the property it verifies, like the functions
    """Every response carries an X-Cap-Requestid, never seen before in the run."""

    def __init__(self, settings: RunSettings | None = None) -> None:
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


@functools.cache
def verdicts() -> dict[str, Any]:
    """contracts/verdicts.yaml: the codes that depend on what a server holds."""
    text = resources.files("capmock.contracts").joinpath("verdicts.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def not_found_codes() -> frozenset[str]:
    """Item codes for a customer the server does not know."""
    return frozenset(str(c) for c in verdicts()["not_found"])


def already_held_codes(operation: str) -> frozenset[str]:
    """Item codes for a write the server already holds (a duplicate)."""
    return frozenset(str(c) for c in verdicts()["already_held"].get(operation, ()))


@check
def documented_sample_is_accepted(run: RunSettings, response: Any, case: Any) -> bool | None:
    """A request built from the document's own samples is accepted: no
    request-level rejection (400-408), and any failing item fails only because
    of what the server holds: it does not know the sample's customer, or it
    already holds what the sample writes (the run sends each sample once per
    format, so a stateful server rightly refuses the second as a duplicate)."""
    phase, mode = phase_and_mode(case)
    if phase != "examples" or mode != GenerationMode.POSITIVE.value:
        return run.not_judged(case, "documented_sample_is_accepted", "not a documented sample")
    data = body_data(response)
    code = str(status_block(data).get("code", ""))
    if code not in REQUEST_LEVEL_SUCCESS:
        fail(case, f"a documented sample was answered with request-level code {code or '?'}")
    allowed = not_found_codes() | already_held_codes(operation_of(case).id)
    refused = [str(s.get("code")) for s in item_statuses(operation_of(case), data)
               if str(s.get("success")) == "false" and str(s.get("code")) not in allowed]
    if refused:
        fail(case, f"a documented sample was refused with item code(s) {', '.join(refused)}")
    return None


@check
def errors_are_documented(run: RunSettings, response: Any, case: Any) -> None:
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

"""Run the conformance suite: one schemathesis engine run per format, the
results folded into a matrix of operation x format x check.

Per format the document is narrowed so that every request asks for that
format (`format=` fixed, Accept set, request bodies in that media type only):
the matrix then says which format broke which promise.

Each cell counts the responses it judged: a check that found nothing to judge
in a response says why (checks.not_judged) and is not counted, so a cell that
judged none is `-` with the most frequent reason, never `ok`. A request that
got no HTTP answer (refused, reset, stalled past --request-timeout) is a
failure of `server_answers` for its operation and format, never a crash.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import schemathesis
from schemathesis import engine
from schemathesis.engine import Status, events

from capmock.contracts import checks, curl, stateful, transport, workflows
from capmock.contracts.cassettes import Cassettes
from capmock.contracts.checks import RunSettings
from capmock.contracts.options import (
    BUILTIN_CHECKS,
    MEDIA,
    NEEDS_STATE,
    SERVER_ANSWERS,
    STATEFUL_CHECKS,
    STATELESS_CHECKS,
    WORKFLOW_ONLY,
    Options,
)
from capmock.contracts.probe import STATELESS, holds_state
from capmock.contracts.results import Cell, Matrix, RunInfo
from capmock.openapi import contract
from capmock.openapi.codec import xml_to_data
from capmock.openapi.platform_auth import basic_header

KEEP_FAILURES = 3  # failure messages kept per cell (all are counted)
NO_ANSWER = "the server gave no answer to judge (see server_answers)"
PER_OPERATION = ("examples", "coverage", "fuzzing")  # phases with one scenario per operation


@dataclass(frozen=True)
class Update:
    """Where a run is: for a progress display."""

    phase: str
    fmt: str
    operation: str
    done: int  # units (operation x phase x format) finished
    total: int
    cases: int  # requests judged so far
    elapsed_s: float
    failures: int

    @property
    def left_s(self) -> float | None:
        """Time left, by the pace so far (None before the first unit is done)."""
        if not self.done:
            return None
        return self.elapsed_s / self.done * max(self.total - self.done, 0)


Progress = Callable[[Update | str], None]


def spec_for(fmt: str, selected: tuple[str, ...]) -> dict[str, Any]:
    """The document narrowed to one format (and to the selected operations)."""
    spec = copy.deepcopy(contract.spec())
    for path, item in list(spec["paths"].items()):
        for method, op in list(item.items()):
            if selected and op["operationId"] not in selected:
                del item[method]
                continue
            narrow(op, fmt)
        if not item:
            del spec["paths"][path]
    drop_dangling_links(spec)
    return spec


def drop_dangling_links(spec: dict[str, Any]) -> None:
    """Links to operations left out by --operations would break the stateful phase."""
    present = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    for item in spec["paths"].values():
        for op in item.values():
            links = op["responses"]["200"].get("links", {})
            for name in [n for n, link in links.items() if link["operationId"] not in present]:
                del links[name]


def narrow(op: dict[str, Any], fmt: str) -> None:
    for param in op["parameters"]:
        if param["name"] == "format":
            param["required"] = True
            param["schema"] = {"type": "string", "enum": [fmt]}
    if "requestBody" in op:
        media = op["requestBody"]["content"][MEDIA[fmt]]
        op["requestBody"]["content"] = {MEDIA[fmt]: media}
        if fmt == "xml":  # schemathesis cannot send a raw XML example: give it the data
            for example in media.get("examples", {}).values():
                example["value"] = xml_to_data(example["value"].encode("utf-8"))["root"]


def check_names(options: Options) -> list[str]:
    """The registered checks this run asks schemathesis to run."""
    names = [*STATELESS_CHECKS, *BUILTIN_CHECKS,
             *(n for n in STATEFUL_CHECKS if n not in WORKFLOW_ONLY
               and (options.stateful_checks or n not in NEEDS_STATE))]
    return [n for n in names if options.selected(n)]


def load_schema(settings: RunSettings, fmt: str) -> Any:
    options = settings.options
    schema = schemathesis.openapi.from_dict(spec_for(fmt, options.operations))
    if options.app is not None:
        schema.app = options.app
    headers = {"Accept": MEDIA[fmt]}
    if options.auth:
        headers["Authorization"] = basic_header(options.auth)
    config = schema.config
    config.update(base_url=options.base_url, headers=headers, workers=options.workers,
                  request_timeout=options.request_timeout,
                  continue_on_failure=not options.fail_fast)  # judge every case, not the first
    config.phases.update(phases=list(options.phases))
    config.generation.update(max_examples=options.max_examples, deterministic=True,
                             database="none")  # same seed, same requests: no replayed history
    config.seed = options.seed
    config.checks.update(included_check_names=check_names(options))
    settings.carry(config.checks, check_names(options))
    return schema


def operation_id(label: str, fallback: str = "?") -> str:
    """The operationId of a label such as "GET /v1.1/customer/get"."""
    method, _, path = label.partition(" ")
    return next((op.id for op in contract.operations().values()
                 if op.method == method.upper() and op.path == path), fallback)


def case_operation(recorder: Any, case_id: str, fallback: str) -> str:
    """The operationId of a recorded case (stateful scenarios span operations)."""
    node = recorder.cases.get(case_id)
    try:
        return checks.operation_of(node.value).id if node else operation_id(fallback, fallback)
    except StopIteration:
        return fallback


@dataclass
class Recorder:
    """Folds one format's events into the matrix."""

    matrix: Matrix
    fmt: str
    options: Options
    cases: int = 0

    def scenario(self, event: events.ScenarioFinished) -> None:
        """One finished scenario's check results."""
        recorder = event.recorder
        for case_id, interaction in recorder.interactions.items():
            if interaction.response is not None:
                self.cases += 1
                operation = case_operation(recorder, case_id, event.label or "?")
                self.matrix.cell(operation, self.fmt, SERVER_ANSWERS).passed += 1
        for case_id, results in recorder.checks.items():
            operation = case_operation(recorder, case_id, event.label or "?")
            for result in results:
                if operation not in stateful.RELEVANT.get(result.name, (operation,)):
                    continue  # a stateful check only judges the reads it is about
                self.result(operation, result, recorder, case_id)

    def result(self, operation: str, result: Any, recorder: Any, case_id: str) -> None:
        cell = self.matrix.cell(operation, self.fmt, result.name)
        if result.status == Status.FAILURE:
            info = result.failure_info
            message = info.failure.message if info else "failed"
            self.failure(cell, f"{message}\n    {self.curl_for(recorder, case_id)}")
        elif result.status == Status.SUCCESS:
            cell.passed += 1

    def failure(self, cell: Cell, message: str) -> None:
        cell.failed += 1
        if len(cell.failures) < KEEP_FAILURES and message not in cell.failures:
            cell.failures.append(message)

    def curl_for(self, recorder: Any, case_id: str) -> str:
        """The request as sent, as a curl line (see contracts/curl.py)."""
        interaction = recorder.interactions.get(case_id)
        if interaction is None:
            return ""
        request = interaction.request
        headers = [(k, v[0] if isinstance(v, list) else v) for k, v in request.headers.items()]
        auth = basic_header(self.options.auth) if self.options.auth else None
        return curl.curl_line(request.method, request.uri, headers, request.body, auth,
                              self.options.show_secrets)

    def no_answer(self, event: events.NonFatalError) -> bool:
        """A request without an HTTP answer: server_answers fails for its operation."""
        if not event.related_to_operation or not no_http_answer(event):
            return False
        operation = operation_id(event.label, "")
        if not operation:
            return False
        info = event.info
        message = f"{event.label} ({self.fmt}): {info.title}: {first_line(info.message)}"
        self.failure(self.matrix.cell(operation, self.fmt, SERVER_ANSWERS), message)
        return True

    def unjudged(self, settings: RunSettings) -> None:
        """The reasons the checks gave for the responses they did not judge."""
        for (operation, check), reasons in settings.take_unjudged().items():
            self.matrix.cell(operation, self.fmt, check).unjudged.update(reasons)


def no_http_answer(event: events.NonFatalError) -> bool:
    """Did the request get no HTTP answer (refused, reset, timed out)? Other
    errors (the engine's own, a flaky generator) stay run errors."""
    return transport.no_answer(event.value) or \
        event.info.title in ("Network Error", "Unresponsive Operation")


def first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else str(text)


@dataclass
class Pace:
    """Progress through the run, in units of operation x phase x format."""

    total: int
    progress: Progress
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    cases: int = 0
    failures: int = 0

    def tell(self, phase: str, fmt: str, operation: str) -> None:
        self.progress(Update(phase, fmt, operation, self.done, self.total, self.cases,
                             time.monotonic() - self.started, self.failures))


def units(options: Options) -> int:
    """How many units a run has: one per operation and phase, stateful counts one."""
    ops = len(options.operations or contract.operations())
    per_format = sum(ops if phase in PER_OPERATION else 1 for phase in options.phases)
    return per_format * len(options.formats)


def run_format(settings: RunSettings, fmt: str, matrix: Matrix, pace: Pace,
               cassettes: Cassettes) -> bool:
    """One format's engine run; False when --fail-fast stopped it."""
    options = settings.options
    recorder = Recorder(matrix, fmt, options)
    stream = engine.from_schema(load_schema(settings, fmt)).execute()
    stopped = False
    for event in stream:
        if isinstance(event, events.ScenarioStarted):
            pace.tell(str(event.phase.value), fmt, event.label or "")
        elif isinstance(event, events.ScenarioFinished):
            recorder.scenario(event)
            cassettes.write(event.recorder)
            if event.phase.value in PER_OPERATION:
                pace.done += 1
            pace.cases, pace.failures = pace.cases + recorder.cases, count_failed(matrix)
            recorder.cases = 0
            pace.tell(str(event.phase.value), fmt, event.label or "")
        elif isinstance(event, events.PhaseFinished) and event.phase.name.value == "stateful":
            pace.done += 1
        elif isinstance(event, events.NonFatalError):
            if not recorder.no_answer(event):
                matrix.errors.append(f"{fmt}: {describe_error(event)}")
        elif isinstance(event, events.FatalError):
            matrix.errors.append(f"{fmt}: {describe_error(event)}")
        if options.fail_fast and matrix.failed and not stopped:
            stream.stop()
            stopped = True
    recorder.unjudged(settings)
    return not stopped


def count_failed(matrix: Matrix) -> int:
    return sum(1 for c in matrix.cells.values() if c.failed)


def describe_error(event: Any) -> str:
    info = getattr(event, "info", None)
    return str(getattr(info, "message", None) or getattr(event, "value", event))


def versions() -> dict[str, str]:
    out = {}
    for name in ("capmock", "schemathesis"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


def run_info(options: Options) -> RunInfo:
    return RunInfo(base_url=options.base_url, formats=options.formats, phases=options.phases,
                   operations=options.operations or tuple(contract.operations()),
                   checks=options.checks, profile=options.profile,
                   http_status=options.http_status, wire=options.wire,
                   max_examples=options.max_examples,
                   seed=options.seed, workers=options.workers,
                   request_timeout=options.request_timeout, auth=bool(options.auth),
                   started=datetime.now(UTC).isoformat(timespec="seconds"),
                   versions=versions())


def run(options: Options, progress: Progress = lambda _update: None) -> Matrix:
    """Run the suite; the matrix holds every check's outcome and the run's details."""
    started = time.monotonic()
    info = run_info(options)
    matrix = Matrix(info=info)
    stateful_server = holds_state(options)
    info.stateful_server = stateful_server
    progress(f"server holds state: {'yes' if stateful_server else 'no'}")
    options = dataclasses.replace(options, stateful_checks=stateful_server)
    settings = RunSettings(options)  # this run's, carried to every check
    pace = Pace(units(options), progress)
    with Cassettes(options) as cassettes:
        run_formats(settings, matrix, pace, cassettes)
    fill_unexercised(matrix, options, info.stopped is not None)
    info.duration_s = round(time.monotonic() - started, 1)
    info.requests = pace.cases
    return matrix


def run_formats(settings: RunSettings, matrix: Matrix, pace: Pace, cassettes: Cassettes) -> None:
    """Each format in turn (the engine, then the directed workflows)."""
    options, info = settings.options, matrix.info
    assert info is not None
    for fmt in options.formats:
        if not run_format(settings, fmt, matrix, pace, cassettes):
            info.stopped = "--fail-fast: stopped at the first failure"
            break
        if options.stateful_checks and "stateful" in options.phases:
            workflows.run(settings, fmt, workflow_recorder(matrix, fmt, options))
            pace.cases += workflows.REQUESTS
        if options.fail_fast and matrix.failed:
            info.stopped = "--fail-fast: stopped at the first failure"
            break


def workflow_recorder(matrix: Matrix, fmt: str, options: Options) -> Callable[..., None]:
    """Fold a directed workflow's outcome into the matrix, like a scenario's;
    `failure` None is a pass, "" is "not judged" (with `reason`)."""
    def record(operation: str, check: str, failure: str | None, reason: str = "") -> None:
        if operation not in stateful.RELEVANT.get(check, (operation,)):
            return
        if options.operations and operation not in options.operations:
            return
        if not options.selected(check):
            return
        cell = matrix.cell(operation, fmt, check)
        if reason:
            cell.unjudged[reason] += 1
        elif failure is None:
            cell.passed += 1
        else:
            cell.failed += 1
            if len(cell.failures) < KEEP_FAILURES:
                cell.failures.append(f"{failure}\n    (directed workflow, {fmt})")
    return record


def fill_unexercised(matrix: Matrix, options: Options, stopped: bool = False) -> None:
    """Every operation x format x check appears, with the reason it judged nothing."""
    operations = options.operations or tuple(contract.operations())
    for op in operations:
        for fmt in options.formats:
            for check in (*STATELESS_CHECKS, *STATEFUL_CHECKS, SERVER_ANSWERS):
                if op not in stateful.RELEVANT.get(check, (op,)):
                    continue
                cell = matrix.cell(op, fmt, check)
                if cell.state == "skip" and cell.skipped is None:
                    answered = matrix.cell(op, fmt, SERVER_ANSWERS).passed > 0
                    cell.skipped = skip_reason(check, options, cell, stopped) if answered \
                        or check == SERVER_ANSWERS else NO_ANSWER


def skip_reason(check: str, options: Options, cell: Cell, stopped: bool = False) -> str:
    """Why a cell judged nothing: the run's setup first, then what the check said."""
    if not options.selected(check):
        return "not selected (--checks)"
    if check in NEEDS_STATE and not options.stateful_checks:
        return STATELESS
    if check in NEEDS_STATE and "stateful" not in options.phases:
        return "stateful phase not selected (the directed workflows run with it)"
    if check == "documented_sample_is_accepted" and "examples" not in options.phases:
        return "examples phase not selected"
    if check == "errors_are_documented" and not {"coverage", "fuzzing"} & set(options.phases):
        return "no phase generating invalid requests selected"
    if cell.unjudged:
        return cell.unjudged.most_common(1)[0][0]
    if stopped:
        return "the run stopped at the first failure (--fail-fast)"
    return "no response this check applies to"

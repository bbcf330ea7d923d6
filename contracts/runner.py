"""Run the conformance suite: one schemathesis engine run per format, the
results folded into a matrix of operation x format x check.

Per format the document is narrowed so that every request asks for that
format (`format=` fixed, Accept set, request bodies in that media type only):
the matrix then says which format broke which promise.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis import engine
from schemathesis.engine import Status, events

from capmock.contracts import checks, stateful, workflows
from capmock.contracts.options import MEDIA, Options
from capmock.contracts.probe import STATELESS, holds_state
from capmock.openapi import contract
from capmock.openapi.codec import xml_to_data
from capmock.openapi.platform_auth import basic_header

BUILTIN_CHECKS = ("status_code_conformance", "content_type_conformance")
STATEFUL_CHECKS = [n for n in stateful.NAMES
                   if n not in ("identity_change_is_pending", "unknown_customer_is_not_found")]

@dataclass
class Cell:
    """One operation x format x check."""

    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def state(self) -> str:
        if self.failed:
            return "fail"
        if self.passed:
            return "pass"
        return "skip"


@dataclass
class Matrix:
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def cell(self, operation: str, fmt: str, check: str) -> Cell:
        return self.cells.setdefault((operation, fmt, check), Cell())

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.cells.values())


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


def load_schema(options: Options, fmt: str) -> Any:
    schema = schemathesis.openapi.from_dict(spec_for(fmt, options.operations))
    if options.app is not None:
        schema.app = options.app
    headers = {"Accept": MEDIA[fmt]}
    if options.auth:
        headers["Authorization"] = basic_header(options.auth)
    config = schema.config
    config.update(base_url=options.base_url, headers=headers, workers=options.workers)
    config.phases.update(phases=list(options.phases))
    config.generation.update(max_examples=options.max_examples, deterministic=True,
                             database="none")  # same seed, same requests: no replayed history
    config.seed = options.seed
    names = [*checks.NAMES, *BUILTIN_CHECKS, "identity_change_is_pending"]
    if options.stateful_checks:
        names += STATEFUL_CHECKS
    config.checks.update(included_check_names=names)
    return schema


def case_operation(recorder: Any, case_id: str, fallback: str) -> str:
    """The operationId of a recorded case (stateful scenarios span operations)."""
    node = recorder.cases.get(case_id)
    try:
        return checks.operation_of(node.value).id if node else fallback
    except StopIteration:
        return fallback


def record(matrix: Matrix, fmt: str, event: events.ScenarioFinished) -> None:
    """Fold one finished scenario's check results into the matrix."""
    for case_id, results in event.recorder.checks.items():
        operation = case_operation(event.recorder, case_id, event.label or "?")
        for result in results:
            if operation not in stateful.RELEVANT.get(result.name, (operation,)):
                continue  # a stateful check only judges the reads it is about
            cell = matrix.cell(operation, fmt, result.name)
            if result.status == Status.FAILURE:
                cell.failed += 1
                if len(cell.failures) < 3:
                    info = result.failure_info
                    message = info.failure.message if info else "failed"
                    cell.failures.append(f"{message}\n    {curl_for(event.recorder, case_id)}")
            elif result.status == Status.SUCCESS:
                cell.passed += 1


def curl_for(recorder: Any, case_id: str) -> str:
    node = recorder.cases.get(case_id)
    try:
        return node.value.as_curl_command() if node else ""
    except Exception:  # a curl line is a courtesy, never a reason to fail
        return ""


def run_format(options: Options, fmt: str, matrix: Matrix,
               progress: Callable[[str], None]) -> None:
    schema = load_schema(options, fmt)
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            record(matrix, fmt, event)
            progress(f"{fmt} {event.label}: {event.status.value}")
        elif isinstance(event, events.FatalError | events.NonFatalError):
            matrix.errors.append(f"{fmt}: {describe_error(event)}")


def describe_error(event: Any) -> str:
    info = getattr(event, "info", None)
    return str(getattr(info, "message", None) or getattr(event, "value", event))


def run(options: Options, progress: Callable[[str], None] = lambda _line: None) -> Matrix:
    """Run the suite; the matrix holds every check's outcome."""
    checks.active.profile = options.profile
    checks.active.http_status = options.http_status
    stateful_server = holds_state(options)
    progress(f"server holds state: {'yes' if stateful_server else 'no'}")
    options = dataclasses.replace(options, stateful_checks=stateful_server)
    matrix = Matrix()
    for fmt in options.formats:
        run_format(options, fmt, matrix, progress)
        if stateful_server and "stateful" in options.phases:
            workflows.run(options, fmt, workflow_recorder(matrix, fmt, options))
    fill_unexercised(matrix, options)
    return matrix


def workflow_recorder(matrix: Matrix, fmt: str, options: Options) -> Callable[..., None]:
    """Fold a directed workflow's outcome into the matrix, like a scenario's."""
    def record(operation: str, check: str, failure: str | None) -> None:
        if operation not in stateful.RELEVANT.get(check, (operation,)):
            return
        if options.operations and operation not in options.operations:
            return
        cell = matrix.cell(operation, fmt, check)
        if failure is None:
            cell.passed += 1
        else:
            cell.failed += 1
            cell.failures.append(f"{failure}\n    (directed workflow, {fmt})")
    return record


def fill_unexercised(matrix: Matrix, options: Options) -> None:
    """Every operation x format x check appears, with the reason it did not run."""
    operations = options.operations or tuple(contract.operations())
    for op in operations:
        for fmt in options.formats:
            for check in (*checks.NAMES, *stateful.NAMES):
                if op not in stateful.RELEVANT.get(check, (op,)):
                    continue
                cell = matrix.cell(op, fmt, check)
                if cell.state == "skip" and cell.skipped is None:
                    cell.skipped = skip_reason(check, options)


def skip_reason(check: str, options: Options) -> str:
    needs_state = (*STATEFUL_CHECKS, "unknown_customer_is_not_found")
    if check in needs_state and not options.stateful_checks:
        return STATELESS
    if check in needs_state and "stateful" not in options.phases:
        return "stateful phase not selected (the directed workflows run with it)"
    if check == "documented_sample_is_accepted" and "examples" not in options.phases:
        return "examples phase not selected"
    if check == "errors_are_documented" and not {"coverage", "fuzzing"} & set(options.phases):
        return "no phase generating invalid requests selected"
    return "no response this check applies to"


def rows(matrix: Matrix) -> Iterator[tuple[str, str, str, Cell]]:
    for (op, fmt, check), cell in sorted(matrix.cells.items()):
        yield op, fmt, check, cell

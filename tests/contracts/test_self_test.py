"""The conformance suite's self-test: it passes against the capmock mock server,
in-process and over a real port, and it catches every fault of `faults.FAULTS`
with the check the fault names, in a message naming the operation; `capmock
verify` turns the same results into exit codes, JUnit XML and an HTML page.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from browser import dump_dom
from click.testing import CliRunner
from faults import FAULTS, Faulty
from flask import Flask
from lxml import etree
from serving import serving

from capmock.contracts import cli, runner
from capmock.contracts.options import STATELESS_CHECKS
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import contract

IN_PROCESS = "http://127.0.0.1"
FORMATS = ("json", "xml")
ALL_BUT_STATEFUL = ("examples", "coverage", "fuzzing")


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(Settings())


def failures(matrix: runner.Matrix) -> list[str]:
    """Every failing cell with its first message, for assertion output."""
    return [f"{op} {fmt} {check}: {cell.failures[0] if cell.failures else ''}"
            for (op, fmt, check), cell in sorted(matrix.cells.items()) if cell.state == "fail"]


def where(operation: str) -> str:
    op = contract.operations()[operation]
    return f"{op.method} {op.path}"


# --- the unmodified mock passes ----------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_suite_passes_against_the_mock_in_process(app: Flask, fmt: str) -> None:
    matrix = runner.run(runner.Options(base_url=IN_PROCESS, app=app, formats=(fmt,),
                                       phases=ALL_BUT_STATEFUL, max_examples=3))
    assert matrix.errors == []
    assert failures(matrix) == []
    states = {(op, check): matrix.cells[(op, fmt, check)].state
              for op in contract.operations() for check in STATELESS_CHECKS}
    other = {"json": "xml_conforms_to_xsd", "xml": "json_conforms_to_schema"}[fmt]
    assert {key for key, state in states.items() if state != "pass"} == {
        (op, other) for op in contract.operations()}
    # the other format's body check judged nothing, and says so: never a vacuous `ok`
    body = "XML" if fmt == "json" else "JSON"
    for op in contract.operations():
        cell = matrix.cells[(op, fmt, other)]
        assert cell.judged == 0 and cell.skipped == f"no {body} body came back", cell


def test_suite_passes_against_the_mock_over_a_real_port(app: Flask) -> None:
    with serving(app) as base_url:
        matrix = runner.run(runner.Options(base_url=base_url, phases=("examples", "fuzzing"),
                                           max_examples=2))
    assert matrix.errors == []
    assert failures(matrix) == []
    exercised = {(op, fmt) for (op, fmt, check), cell in matrix.cells.items()
                 if check == "format_is_honoured" and cell.state == "pass"}
    assert exercised == {(op, fmt) for op in contract.operations() for fmt in FORMATS}


# --- every fault is caught by its check ---------------------------------------------------

# Where each fault shows: operations, format, phases, profile. Faults on answers to
# documented requests need the examples phase; faults on error answers (400, the
# all-items-failed 500, a missing identifier) need the coverage phase's invalid
# requests; non-ASCII input comes from fuzzing free text (customer/search q).
EXAMPLES = ("examples",)
RUNS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], str]] = {
    "drop-item-status": (("customer_get",), "json", EXAMPLES, "lenient"),
    "letters-in-number": (("customer_get",), "json", EXAMPLES, "lenient"),
    "xml-for-json": (("customer_get",), "json", EXAMPLES, "lenient"),
    "json-labelled-xml": (("customer_get",), "json", EXAMPLES, "lenient"),
    "no-charset": (("customer_get",), "json", EXAMPLES, "lenient"),
    "undeclared-element": (("customer_get",), "xml", EXAMPLES, "strict"),
    "truncated-xml": (("customer_get",), "xml", EXAMPLES, "lenient"),
    "foreign-item-code": (("customer_get",), "json", EXAMPLES, "lenient"),
    "success-true-with-500": (("customer_preferences_get",), "json", ("coverage",), "lenient"),
    "http-200-for-400": (("customer_search",), "json", ("coverage",), "lenient"),
    "201-all-failed": (("customer_preferences_get",), "json", ("coverage",), "lenient"),
    "no-request-id": (("customer_get",), "json", EXAMPLES, "lenient"),
    "constant-request-id": (("customer_get", "customer_search"), "json", EXAMPLES, "lenient"),
    "reject-xml-bodies": (("customer_add",), "xml", EXAMPLES, "lenient"),
    "identifier-free-success": (("customer_preferences_get",), "json", ("coverage",),
                                "lenient"),
    "html-500-non-ascii": (("customer_search",), "json", ("fuzzing",), "lenient"),
}


def test_every_fault_has_a_run() -> None:
    assert RUNS.keys() == FAULTS.keys()
    assert {check for check, _ in FAULTS.values()} == set(STATELESS_CHECKS)
    assert len(FAULTS) >= 12


def run_against(wsgi_app: Any, fault: str, profile: str | None = None) -> runner.Matrix:
    operations, fmt, phases, planned_profile = RUNS[fault]
    return runner.run(runner.Options(base_url=IN_PROCESS, app=wsgi_app, formats=(fmt,),
                                     phases=phases, operations=operations, max_examples=3,
                                     profile=profile or planned_profile))


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_is_caught_by_its_check(app: Flask, fault: str) -> None:
    check, _ = FAULTS[fault]
    operations, fmt, _, _ = RUNS[fault]
    clean = run_against(app, fault)
    assert clean.errors == [] and failures(clean) == []  # the same run passes without it

    matrix = run_against(Faulty(app, fault), fault)
    assert matrix.errors == []
    assert matrix.failed
    caught = {op: matrix.cells[(op, fmt, check)] for op in operations
              if matrix.cells[(op, fmt, check)].state == "fail"}
    assert caught, f"{check} did not catch {fault}; failing: {failures(matrix)}"
    for op, cell in caught.items():
        assert any(where(op) in message for message in cell.failures), cell.failures


def test_undeclared_element_passes_the_lenient_profile(app: Flask) -> None:
    matrix = run_against(Faulty(app, "undeclared-element"), "undeclared-element", "lenient")
    assert matrix.errors == [] and failures(matrix) == []
    assert matrix.cells[("customer_get", "xml", "xml_conforms_to_xsd")].state == "pass"


# --- capmock verify: exit codes, JUnit XML and HTML ----------------------------------------

def verify(base_url: str, *args: str) -> Any:
    return CliRunner().invoke(cli.command, ["--base-url", base_url, "--phases", "examples",
                                            "--max-examples", "2", *args])


@pytest.mark.parametrize(("fault", "fmt"), [("foreign-item-code", "json"),
                                            ("truncated-xml", "xml")])
def test_verify_reports_a_faulty_server(app: Flask, tmp_path: Path, fault: str,
                                        fmt: str) -> None:
    check, _ = FAULTS[fault]
    junit, page = tmp_path / "junit.xml", tmp_path / "report.html"
    with serving(Faulty(app, fault)) as base_url:
        result = verify(base_url, "--operations", "customer_get", "--formats", fmt,
                        "--junit-xml", str(junit), "--report", str(page))
    assert result.exit_code == 1, result.output

    suite = etree.parse(str(junit)).getroot()
    failed = [case for case in suite.iter("testcase") if case.find("failure") is not None]
    assert any(case.get("classname") == "customer_get" and check in case.get("name")
               for case in failed), [case.get("name") for case in failed]
    assert int(suite.get("failures")) == len(failed) >= 1

    html = page.read_text("utf-8")
    assert "customer_get" in html and "FAIL" in html
    assert where("customer_get") in html


def test_verify_passes_the_clean_mock(app: Flask, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    with serving(app) as base_url:
        result = verify(base_url, "--operations", "customer_get,customer_add",
                        "--junit-xml", str(junit))
    assert result.exit_code == 0, result.output
    assert etree.parse(str(junit)).getroot().get("failures") == "0"


def test_verify_cannot_reach_a_closed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = verify(f"http://127.0.0.1:{port}")
    assert result.exit_code == 2
    assert "cannot reach" in result.output


@pytest.mark.slow
def test_html_report_opens_in_a_browser(app: Flask, tmp_path: Path, chromium: str) -> None:
    report = tmp_path / "report.html"
    with serving(Faulty(app, "foreign-item-code")) as base_url:
        verify(base_url, "--operations", "customer_get", "--formats", "json",
               "--report", str(report))
    dom = dump_dom(chromium, report.as_uri(), tmp_path / "profile")
    assert "<table>" in dom and "customer_get" in dom and 'class="fail"' in dom


# --- a fresh sandbox passes one default run, both formats, in either order ---------------

@pytest.mark.slow
@pytest.mark.parametrize("formats", [("json", "xml"), ("xml", "json")])
def test_one_run_passes_a_fresh_sandbox_in_both_formats(formats: tuple[str, ...]) -> None:
    """The documented samples go once per format: the second documented ticket
    is rightly refused as a duplicate subject (1301), which the suite accepts
    (contracts/verdicts.yaml); the workflows write data unique to the run."""
    sandbox = create_app(Settings(mode="sandbox", store=":memory:"))
    try:
        matrix = runner.run(runner.Options(base_url=IN_PROCESS, app=sandbox, formats=formats,
                                           phases=("examples", "stateful"), max_examples=2))
    finally:
        sandbox.extensions["capmock"].sandbox.store.close()
    assert matrix.errors == [] and failures(matrix) == []
    assert matrix.info.stateful_server
    for fmt in formats:
        cell = matrix.cells[("customer_tickets_add", fmt, "documented_sample_is_accepted")]
        assert cell.state == "pass" and cell.judged >= 1
        assert matrix.cells[("customer_tickets_get", fmt, "writes_are_read_back")].state == \
            "pass"


# --- the wire: a server writing the document's form is reported under strict + platform --

def test_a_document_wire_server_is_reported_under_strict_and_platform() -> None:
    """The mock on --wire document (string status.code, one item as an object, points
    as text) fails json_conforms_to_schema under --profile strict --wire platform,
    naming the field; it passes strict on the document wire and lenient on either."""
    document = create_app(Settings(wire="document"))
    operations = ("customer_add", "customer_search")

    def run(profile: str, wire: str) -> runner.Matrix:
        return runner.run(runner.Options(base_url=IN_PROCESS, app=document, formats=("json",),
                                         phases=("examples",), operations=operations,
                                         max_examples=2, profile=profile, wire=wire))

    strict = run("strict", "platform")
    cells = {op: strict.cells[(op, "json", "json_conforms_to_schema")] for op in operations}
    assert all(cell.state == "fail" for cell in cells.values()), failures(strict)
    assert any("/response/status/code: '200' is not a JSON number" in message
               for message in cells["customer_add"].failures), cells["customer_add"].failures
    assert any("is not a JSON array" in message for message in cells["customer_search"].failures)
    for profile, wire in (("strict", "document"), ("lenient", "platform")):
        matrix = run(profile, wire)
        assert matrix.errors == [] and failures(matrix) == [], (profile, wire)

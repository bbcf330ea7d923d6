"""Robust against foreign servers: whatever a server answers (a bare JSON
string, HTML, an empty, truncated or non-UTF-8 body, a reset connection, a
stall) becomes a finding of the check it violates, naming the operation and
the format; the run never crashes and leaves no error outside the matrix.
The state probe meets the same answers first (tests/contracts/foreign.py
breaks customer/add and customer/get too)."""

from __future__ import annotations

import pytest
from foreign import foreign

from capmock.contracts import runner
from capmock.contracts.options import Options

BROKEN = ("/v1.1/customer/get", "/v1.1/customer/add")
OPERATIONS = ("customer_get", "customer_add", "customer_search")

# behaviour -> (check that must fail, a phrase of its message, the cells that judged nothing)
EXPECTED = {
    "json-string": ("envelope_is_coherent", "no response.status block", None),
    "html": ("format_is_honoured", "'text/html; charset=utf-8' is neither JSON nor XML",
             "no JSON body came back"),
    "empty": ("json_conforms_to_schema", "not valid JSON", "the body is neither readable"),
    "not-utf8": ("json_conforms_to_schema", "can't decode byte 0xff",
                 "the body is neither readable"),
    "truncated": ("server_answers", "Network Error", "the server gave no answer"),
    "reset": ("server_answers", "Network Error", "the server gave no answer"),
}


def run_against(base_url: str, **overrides: object) -> runner.Matrix:
    settings = {"base_url": base_url, "formats": ("json",), "operations": OPERATIONS,
                "phases": ("examples",), "max_examples": 1, "request_timeout": 2.0,
                **overrides}
    return runner.run(Options(**settings))


@pytest.mark.parametrize("behaviour", list(EXPECTED))
def test_a_foreign_answer_is_a_finding_of_its_check(behaviour: str) -> None:
    check, phrase, unjudged = EXPECTED[behaviour]
    with foreign(dict.fromkeys(BROKEN, behaviour)) as base_url:
        matrix = run_against(base_url)
    assert matrix.errors == []
    assert matrix.info.stateful_server is False  # the probe read no customer back, no crash
    cell = matrix.cells[("customer_get", "json", check)]
    assert cell.state == "fail", (behaviour, cell)
    assert any(phrase in f and "/v1.1/customer/get (json)" in f for f in cell.failures), \
        cell.failures
    if unjudged:
        judged_nothing = [c for (op, _, _), c in matrix.cells.items()
                          if op == "customer_get" and c.state == "skip"]
        assert any(unjudged in (c.skipped or "") for c in judged_nothing), judged_nothing
    search = matrix.cells[("customer_search", "json", "format_is_honoured")]
    assert search.state == "pass" and search.judged >= 1  # the rest of the run went on


def test_a_stall_is_a_time_out_naming_the_operation_and_format() -> None:
    with foreign({"/v1.1/customer/search": "stall"}) as base_url:
        matrix = run_against(base_url, formats=("xml",), request_timeout=1.0)
    assert matrix.errors == []
    cell = matrix.cells[("customer_search", "xml", "server_answers")]
    assert cell.state == "fail"
    assert any(f.startswith("GET /v1.1/customer/search (xml):") and "timed out" in f
               for f in cell.failures), cell.failures
    for check in ("format_is_honoured", "envelope_is_coherent"):
        skipped = matrix.cells[("customer_search", "xml", check)]
        assert skipped.state == "skip" and "no answer" in skipped.skipped
    assert matrix.cells[("customer_get", "xml", "server_answers")].state == "pass"


def test_no_cell_is_ok_without_a_judged_response() -> None:
    """The empty body: the XSD check and the envelope check judged nothing and
    say why; nothing reads `ok` for customer/get but what judged a response."""
    with foreign(dict.fromkeys(BROKEN, "empty")) as base_url:
        matrix = run_against(base_url)
    for (op, _fmt, _check), cell in matrix.cells.items():
        if op == "customer_get":
            assert (cell.state == "pass") == (cell.passed > 0 and cell.failed == 0)
            assert cell.state != "skip" or cell.skipped
    assert matrix.cells[("customer_get", "json", "xml_conforms_to_xsd")].skipped == \
        "no XML body came back"

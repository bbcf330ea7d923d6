"""Reports of a run: the closing matrix on the terminal, a JUnit XML file for
CI, a JSON file for tools and a self-contained HTML page for people. Every
one carries the run's details (server, formats, phases, profile, seed ...,
versions, start, duration, requests), the totals, and for each cell how many
responses it judged: `ok 12` is twelve responses that kept the promise,
`FAIL 3/12` three of twelve that broke it, `-` none judged, with the reason.
"""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path
from typing import Any

from lxml import etree

from capmock.contracts.curl import SECRET_VARIABLE
from capmock.contracts.options import CHECKS, Options
from capmock.contracts.results import Cell, Matrix, rows

SYMBOL = {"pass": "ok", "fail": "FAIL", "skip": "-"}
LEGEND = ("cells: ok N = N responses judged, all kept the promise; FAIL F/N = F of N "
          "broke it; - = none judged (reason below)")


def checks_for(options: Options) -> list[str]:
    """The checks a run with these options fills in, in report order."""
    return [c for c in CHECKS if options.selected(c)]


def grouped(matrix: Matrix) -> dict[tuple[str, str], dict[str, Cell]]:
    """(operation, format) -> check -> cell, in order."""
    out: dict[tuple[str, str], dict[str, Cell]] = {}
    for op, fmt, check, cell in rows(matrix):
        out.setdefault((op, fmt), {})[check] = cell
    return out


def checks_in(matrix: Matrix) -> list[str]:
    present = {check for (_, _, check) in matrix.cells}
    extra = sorted(present - set(CHECKS))
    return [*[n for n in CHECKS if n in present], *extra]


def mark(cell: Cell) -> str:
    """ok N, FAIL F/N or -."""
    if cell.state == "fail":
        return f"FAIL {cell.failed}/{cell.judged}"
    if cell.state == "pass":
        return f"ok {cell.passed}"
    return "-"


def detail_lines(matrix: Matrix) -> list[str]:
    """The run's details and totals, one `name: value` per line."""
    info = matrix.info
    lines = []
    if info is not None:
        versions = ", ".join(f"{k} {v}" for k, v in info.versions.items())
        lines += [f"server: {info.base_url} (holds state: "
                  f"{'yes' if info.stateful_server else 'no'})",
                  f"run: formats {','.join(info.formats)}; phases {','.join(info.phases)}; "
                  f"{len(info.operations)} operation(s); profile {info.profile}; "
                  f"http-status {info.http_status}; wire {info.wire}; "
                  f"max-examples {info.max_examples}; "
                  f"seed {info.seed}; workers {info.workers}; request-timeout "
                  f"{info.request_timeout:g} s; checks "
                  f"{','.join(info.checks) if info.checks else 'all'}",
                  f"started {info.started}, took {info.duration_s:.1f} s, "
                  f"{info.requests} request(s); {versions}"]
        if info.auth:
            lines.append(f"auth: given; curl lines read it from ${SECRET_VARIABLE} "
                         "(--show-secrets prints it)")
        if info.stopped:
            lines.append(f"stopped early: {info.stopped}")
    t = matrix.totals()
    lines.append(f"totals: {t['cells']} cells: {t['ok']} ok, {t['failed']} failed, "
                 f"{t['not_judged']} judged nothing; {t['judgements']} responses judged, "
                 f"{t['failing_judgements']} failing")
    return lines


def text_matrix(matrix: Matrix) -> str:
    """operation x format rows, one column per check (numbered, legend below)."""
    checks = checks_in(matrix)
    width = max([8, *(len(mark(c)) + 1 for c in matrix.cells.values())])
    widths = [30, 5, *[width] * len(checks)]
    header = ["operation", "fmt", *[str(i + 1) for i in range(len(checks))]]
    lines = ["".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    for (op, fmt), cells in grouped(matrix).items():
        marks = [mark(cells[c]) if c in cells else " " for c in checks]
        lines.append("".join(v.ljust(w) for v, w in zip([op, fmt, *marks], widths, strict=True)))
    legend = [f"  {i + 1}. {name}" for i, name in enumerate(checks)]
    return "\n".join([*lines, "checks:", *legend, LEGEND, *detail_lines(matrix)])


def failure_lines(matrix: Matrix) -> list[str]:
    out = []
    for op, fmt, check, cell in rows(matrix):
        for failure in cell.failures:
            out.append(f"[{op} {fmt}] {check} ({cell.failed} of {cell.judged} judged "
                       f"failed):\n  {failure}")
    return out


def skip_lines(matrix: Matrix) -> list[str]:
    reasons: dict[tuple[str, str], list[str]] = {}
    for op, fmt, check, cell in rows(matrix):
        if cell.state == "skip" and cell.skipped:
            reasons.setdefault((check, cell.skipped), []).append(f"{op}/{fmt}")
    return [f"{check} judged nothing for {len(where)} operation/format(s): {reason}"
            for (check, reason), where in reasons.items()]


def cell_data(op: str, fmt: str, check: str, cell: Cell) -> dict[str, Any]:
    return {"operation": op, "format": fmt, "check": check, "state": cell.state,
            "judged": cell.judged, "passed": cell.passed, "failed": cell.failed,
            "failures": cell.failures, "not_judged": cell.skipped if cell.state == "skip"
            else None, "unjudged_reasons": dict(cell.unjudged)}


def as_data(matrix: Matrix) -> dict[str, Any]:
    """The whole run as JSON-ready data."""
    return {"run": dataclasses.asdict(matrix.info) if matrix.info else None,
            "totals": matrix.totals(), "errors": matrix.errors,
            "cells": [cell_data(*row) for row in rows(matrix)]}


def write_json(matrix: Matrix, path: Path) -> None:
    path.write_text(json.dumps(as_data(matrix), indent=2) + "\n", "utf-8")


def write_junit(matrix: Matrix, path: Path) -> None:
    """One testcase per operation x format x check; classname = operation. The
    run's details are <properties>; a skipped case says why it judged nothing."""
    suite = etree.Element("testsuite", name="capmock verify")
    properties = etree.SubElement(suite, "properties")
    for name, value in (as_data(matrix)["run"] or {}).items():
        etree.SubElement(properties, "property", name=name,
                         value=json.dumps(value) if not isinstance(value, str) else value)
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for op, fmt, check, cell in rows(matrix):
        case = etree.SubElement(suite, "testcase", classname=op, name=f"{fmt}.{check}")
        counts["tests"] += 1
        etree.SubElement(case, "system-out").text = f"{cell.judged} response(s) judged"
        if cell.state == "fail":
            counts["failures"] += 1
            failure = etree.SubElement(case, "failure", message=(
                f"{cell.failed} of {cell.judged} failed: " + cell.failures[0].split("\n")[0]
                if cell.failures else f"{cell.failed} of {cell.judged} failed"))
            failure.text = "\n\n".join(cell.failures)
        elif cell.state == "skip":
            counts["skipped"] += 1
            etree.SubElement(case, "skipped", message=cell.skipped or "not exercised")
    for key, value in counts.items():
        suite.set(key, str(value))
    if matrix.info:
        suite.set("time", f"{matrix.info.duration_s:.1f}")
        suite.set("timestamp", matrix.info.started)
    path.write_bytes(etree.tostring(suite, xml_declaration=True, encoding="UTF-8",
                                    pretty_print=True))


STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:center}
th.check{writing-mode:vertical-rl;transform:rotate(180deg);height:17em;white-space:nowrap}
td.pass{background:#d9f2d9}td.fail{background:#f7c6c6;font-weight:bold}td.skip{color:#888}
td.op{text-align:left}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}
ul.details{list-style:none;padding:0}"""


def html_cell(cell: Cell | None) -> str:
    if cell is None:
        return "<td></td>"
    title = html.escape(cell.skipped if cell.state == "skip" and cell.skipped else
                        f"{cell.judged} judged: {cell.passed} passed, {cell.failed} failed")
    return f'<td class="{cell.state}" title="{title}">{html.escape(mark(cell))}</td>'


def write_html(matrix: Matrix, path: Path, title: str) -> None:
    """A self-contained page: run details and totals, the matrix, then every
    failure with its curl line and every reason a cell judged nothing."""
    checks = checks_in(matrix)
    head = "".join(f'<th class="check">{html.escape(c)}</th>' for c in checks)
    body = [f'<tr><td class="op">{html.escape(op)}</td><td>{fmt}</td>'
            + "".join(html_cell(cells.get(c)) for c in checks) + "</tr>"
            for (op, fmt), cells in grouped(matrix).items()]
    details = "".join(f"<li>{html.escape(line)}</li>" for line in detail_lines(matrix))
    failures = "".join(f"<pre>{html.escape(line)}</pre>" for line in failure_lines(matrix))
    skips = "".join(f"<li>{html.escape(line)}</li>" for line in skip_lines(matrix))
    errors = "".join(f"<li>{html.escape(line)}</li>" for line in matrix.errors)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<h2>Run</h2><ul class='details'>{details}</ul><p>{html.escape(LEGEND)}</p>"
            f"<table><tr><th>operation</th><th>format</th>{head}</tr>{''.join(body)}</table>"
            f"<h2>Failures</h2>{failures or '<p>None.</p>'}"
            f"<h2>Judged nothing</h2><ul>{skips}</ul>"
            f"{'<h2>Errors</h2><ul>' + errors + '</ul>' if errors else ''}"
            "</body></html>")
    path.write_text(page, "utf-8")


WRITERS = {"junit": write_junit, "json": write_json}

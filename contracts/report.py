"""Reports of a run: the closing matrix on the terminal, a JUnit XML file for
CI, and a self-contained HTML page for people."""

from __future__ import annotations

import html
from pathlib import Path

from lxml import etree

from capmock.contracts.checks import NAMES as STATELESS_NAMES
from capmock.contracts.runner import Cell, Matrix, rows
from capmock.contracts.stateful import NAMES as STATEFUL_NAMES

SYMBOL = {"pass": "ok", "fail": "FAIL", "skip": "-"}


def grouped(matrix: Matrix) -> dict[tuple[str, str], dict[str, Cell]]:
    """(operation, format) -> check -> cell, in order."""
    out: dict[tuple[str, str], dict[str, Cell]] = {}
    for op, fmt, check, cell in rows(matrix):
        out.setdefault((op, fmt), {})[check] = cell
    return out


NAMES = (*STATELESS_NAMES, *STATEFUL_NAMES)


def checks_in(matrix: Matrix) -> list[str]:
    extra = sorted({check for (_, _, check) in matrix.cells} - set(NAMES))
    return [*NAMES, *extra]


def text_matrix(matrix: Matrix) -> str:
    """operation x format rows, one column per check."""
    checks = checks_in(matrix)
    header = ["operation", "fmt", *[str(i + 1) for i in range(len(checks))]]
    widths = [30, 5, *[5] * len(checks)]
    lines = ["".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    for (op, fmt), cells in grouped(matrix).items():
        marks = [SYMBOL[cells[c].state] if c in cells else " " for c in checks]
        lines.append("".join(v.ljust(w) for v, w in zip([op, fmt, *marks], widths, strict=True)))
    legend = [f"  {i + 1}. {name}" for i, name in enumerate(checks)]
    return "\n".join([*lines, "checks:", *legend])


def failure_lines(matrix: Matrix) -> list[str]:
    out = []
    for op, fmt, check, cell in rows(matrix):
        for failure in cell.failures:
            out.append(f"[{op} {fmt}] {check} ({cell.failed} failing case(s)):\n  {failure}")
    return out


def skip_lines(matrix: Matrix) -> list[str]:
    reasons: dict[tuple[str, str], list[str]] = {}
    for op, fmt, check, cell in rows(matrix):
        if cell.state == "skip" and cell.skipped:
            reasons.setdefault((check, cell.skipped), []).append(f"{op}/{fmt}")
    return [f"{check} skipped for {len(where)} operation/format(s): {reason}"
            for (check, reason), where in reasons.items()]


def write_junit(matrix: Matrix, path: Path) -> None:
    """One testcase per operation x format x check; classname = operation."""
    suite = etree.Element("testsuite", name="capmock verify")
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    for op, fmt, check, cell in rows(matrix):
        case = etree.SubElement(suite, "testcase", classname=op, name=f"{fmt}.{check}")
        counts["tests"] += 1
        if cell.state == "fail":
            counts["failures"] += 1
            failure = etree.SubElement(case, "failure", message=cell.failures[0].split("\n")[0])
            failure.text = "\n\n".join(cell.failures)
        elif cell.state == "skip":
            counts["skipped"] += 1
            etree.SubElement(case, "skipped", message=cell.skipped or "not exercised")
    for key, value in counts.items():
        suite.set(key, str(value))
    path.write_bytes(etree.tostring(suite, xml_declaration=True, encoding="UTF-8",
                                    pretty_print=True))


STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:center}
th.check{writing-mode:vertical-rl;transform:rotate(180deg);height:11em}
td.pass{background:#d9f2d9}td.fail{background:#f7c6c6;font-weight:bold}td.skip{color:#888}
td.op{text-align:left}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}"""


def html_cell(cell: Cell | None) -> str:
    if cell is None:
        return "<td></td>"
    title = html.escape(cell.skipped or f"{cell.passed} passed, {cell.failed} failed")
    return f'<td class="{cell.state}" title="{title}">{SYMBOL[cell.state]}</td>'


def write_html(matrix: Matrix, path: Path, title: str) -> None:
    """A self-contained page: the matrix, then every failure with its curl line."""
    checks = checks_in(matrix)
    head = "".join(f'<th class="check">{html.escape(c)}</th>' for c in checks)
    body = [f'<tr><td class="op">{html.escape(op)}</td><td>{fmt}</td>'
            + "".join(html_cell(cells.get(c)) for c in checks) + "</tr>"
            for (op, fmt), cells in grouped(matrix).items()]
    failures = "".join(f"<pre>{html.escape(line)}</pre>" for line in failure_lines(matrix))
    skips = "".join(f"<li>{html.escape(line)}</li>" for line in skip_lines(matrix))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<table><tr><th>operation</th><th>format</th>{head}</tr>{''.join(body)}</table>"
            f"<h2>Failures</h2>{failures or '<p>None.</p>'}<h2>Skipped</h2><ul>{skips}</ul>"
            "</body></html>")
    path.write_text(page, "utf-8")

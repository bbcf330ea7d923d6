"""`capmock lint`: account for everything the API document contains.

Per operation it counts the document's samples, the fixtures, the examples in
the OpenAPI document, the applicable codes and the registered defects, and it
fails (exit 1) when anything is unaccounted for:
- a fenced block of the document cited by no fixture, or by several;
- a fixture that differs from its block without a registered defect;
- a defect id that the register does not hold;
- a documented sample missing from the OpenAPI examples;
- a section of the document with no operation;
- a code of the Response Codes tables missing from the code table.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from capmock import fixtures
from capmock.openapi import codes, contract, document
from capmock.openapi.codec import CodecError, xml_to_data

NOT_OPERATIONS = {"Response Codes"}


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_block(block: document.Block) -> Any:
    """The block's content in comparable form; raises ValueError if malformed."""
    if block.language == "json":
        return json.loads(block.text)
    if block.language == "xml":
        return xml_to_data(block.text.encode("utf-8"))
    return request_lines(block.text)


def request_lines(text: str) -> list[str]:
    """`METHOD /v1.1/...` paths of a URL block or a url fixture, host stripped."""
    out = []
    for line in text.splitlines():
        if "/v1.1/" in line:
            method = line.split()[0] if line.split()[0] in ("GET", "POST") else ""
            path = "/v1.1/" + line.split("/v1.1/", 1)[1].strip().strip('"')
            out.append(f"{method} {path}".strip())
    return out


def parse_fixture(sample: fixtures.Sample) -> Any:
    if sample.format == "json":
        return json.loads(sample.read_text())
    if sample.format == "xml":
        return xml_to_data(sample.read_bytes())
    return [line.split(" ", 1)[1] for line in request_lines(sample.read_text())]


def same_as_block(block: document.Block, sample: fixtures.Sample) -> bool:
    """Does the fixture say what the block says (ignoring layout and comments)?"""
    try:
        parsed = parse_block(block)
    except (ValueError, CodecError):
        return False
    if sample.format == "url":
        parsed = [line.split(" ", 1)[-1] for line in parsed]
    return not block.is_empty and parsed == parse_fixture(sample)


def check_blocks(blocks: list[document.Block], report: Report) -> None:
    cited = Counter((s.section, s.block) for s in fixtures.samples() if s.block)
    by_block = {(s.section, s.block): s for s in fixtures.samples() if s.block}
    for b in blocks:
        key = (b.section, b.number)
        if cited[key] != 1:
            report.problems.append(f"{b.section} #{b.number} (line {b.line}): cited by "
                                   f"{cited[key]} fixtures, expected 1")
            continue
        sample = by_block[key]
        if not sample.defects and not same_as_block(b, sample):
            report.problems.append(f"{b.section} #{b.number} (line {b.line}): "
                                   f"{sample.file} differs from the document; no defect says why")


def block_digest(block: document.Block) -> str:
    return hashlib.sha256(block.text.encode("utf-8")).hexdigest()[:16]


def check_fingerprints(blocks: list[document.Block], report: Report) -> None:
    """A block that changed since the fixtures were taken needs a fresh look."""
    known = {(r["section"], r["block"]): r["sha256"] for r in fixtures.load_yaml("blocks.yaml")}
    for b in blocks:
        recorded = known.get((b.section, b.number))
        if recorded != block_digest(b):
            state = "is new" if recorded is None else "changed since the fixtures were taken"
            report.problems.append(f"{b.section} #{b.number} (line {b.line}): {state}")


def check_defect_ids(report: Report) -> None:
    known = {d["id"] for d in fixtures.defects()}
    for s in fixtures.samples():
        for d in s.defects:
            if d not in known:
                report.problems.append(f"{s.file}: cites unknown defect {d}")


def spec_examples(op: contract.Operation) -> set[tuple[str, str, str]]:
    """(role, format, example name) of every example the document attaches."""
    item = contract.spec()["paths"][op.path][op.method.lower()]
    out: set[tuple[str, str, str]] = set()
    places = [("response", item["responses"]["200"])]
    if "requestBody" in item:
        places.append(("request", item["requestBody"]))
    for role, place in places:
        for media, body in place["content"].items():
            fmt = "json" if media.endswith("json") else "xml"
            out.update((role, fmt, name) for name in body.get("examples", {}))
    return out


def check_operation(op: contract.Operation, blocks: list[document.Block], report: Report) -> None:
    samples = fixtures.samples_for(op.id)
    examples = spec_examples(op)
    for s in samples:
        if s.format != "url" and (s.role, s.format, s.example) not in examples:
            report.problems.append(f"{s.file}: not attached as an example in the OpenAPI document")
    defect_count = sum(1 for d in fixtures.defects() if op.section in (d.get("sections") or []))
    report.rows.append({
        "operation": op.id,
        "samples": sum(1 for b in blocks if b.section == op.section),
        "fixtures": len(samples),
        "examples": len(examples),
        "codes": len(codes.codes_for(op.id)),
        "defects": defect_count,
    })


def check_sections(text: str, report: Report) -> None:
    covered = {op.section for op in contract.operations().values()}
    for title in document.sections(text):
        if title not in covered and title not in NOT_OPERATIONS:
            report.problems.append(f"section {title!r}: no operation covers it")


def check_codes(text: str, report: Report) -> None:
    table = {(e.code, e.message) for e in codes.item_codes()}
    for cell, message in document.code_rows(text):
        for code in cell.replace(" ", "").split("/"):
            if (int(code), message) not in table:
                report.problems.append(f"code {code} {message!r}: not in openapi/codes.yaml")


def lint(text: str) -> Report:
    """Run every check against the document text."""
    report = Report()
    blocks = document.blocks(text)
    check_blocks(blocks, report)
    check_fingerprints(blocks, report)
    check_defect_ids(report)
    check_sections(text, report)
    check_codes(text, report)
    for op in contract.operations().values():
        check_operation(op, blocks, report)
    return report


def print_report(report: Report) -> None:
    columns = ("operation", "samples", "fixtures", "examples", "codes", "defects")
    widths = (30, 8, 9, 9, 6, 8)
    click.echo("".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in report.rows:
        click.echo("".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))
    totals = {c: sum(r[c] for r in report.rows) for c in columns[1:]}
    click.echo("".join(str(totals.get(c, "total")).ljust(w)
                       for c, w in zip(columns, widths, strict=True)))


@click.command("lint")
@click.option("--document", "document_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Lint against this copy of the API document instead of the packaged one.")
def command(document_path: Path | None) -> None:
    """Check that every sample, code and defect of the document is accounted for."""
    text = document_path.read_text("utf-8") if document_path else document.default_text()
    report = lint(text)
    print_report(report)
    for problem in report.problems:
        click.echo(f"UNACCOUNTED: {problem}", err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo("everything in the document is accounted for")

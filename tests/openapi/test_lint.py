"""`capmock lint` accounts for the whole document and fails on anything new."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sources import declared_operations

from capmock.openapi import document
from capmock.openapi.build import lint


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(lint.command, list(args))
    return result.exit_code, result.output


def test_the_packaged_document_is_fully_accounted_for() -> None:
    report = lint.lint(document.default_text())
    assert report.problems == []
    assert [r["operation"] for r in report.rows] == declared_operations()
    assert sum(r["samples"] for r in report.rows) == len(document.blocks(document.default_text()))


def test_lint_prints_a_row_per_operation_and_exits_0() -> None:
    code, output = run()
    assert code == 0, output
    assert "customer_subscriptions_get" in output
    assert "accounted for" in output


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = document.default_text()
    assert old in text
    path = tmp_path / "doc.md"
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


def test_a_new_sample_in_the_document_is_unaccounted(tmp_path: Path) -> None:
    path = edited(tmp_path, "## Update Customer Details\n",
                  "## Update Customer Details\n\n```json\n{\"new\": true}\n```\n")
    code, output = run("--document", str(path))
    assert code == 1
    assert "Update Customer Details #1" in output


def test_a_changed_sample_value_is_unaccounted(tmp_path: Path) -> None:
    path = edited(tmp_path, '"lastname": "Ranjan"', '"lastname": "Rajan"')
    code, output = run("--document", str(path))
    assert code == 1
    assert "Retrieve Customer Details #2" in output


def test_a_new_section_without_operation_is_unaccounted(tmp_path: Path) -> None:
    path = edited(tmp_path, "## Response Codes", "## Merge Customers\n\ntext\n\n## Response Codes")
    code, output = run("--document", str(path))
    assert code == 1
    assert "Merge Customers" in output


def test_a_new_error_code_is_unaccounted(tmp_path: Path) -> None:
    path = edited(tmp_path, "| 1303       |", "| 1304       | Ticket closed |\n| 1303       |")
    code, output = run("--document", str(path))
    assert code == 1
    assert "1304" in output

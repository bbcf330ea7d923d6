"""The code table (openapi/codes.yaml) against the document and FACTS.md."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from sources import declared_operations

from capmock.openapi import codes

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "source" / "capillary-customer-v1.1.md"
TABLE = ROOT / "openapi" / "codes.yaml"

# The operations openapi/src/operations.yaml declares, in its order (tests/sources.py):
# the code table lists the same ones.
OPERATIONS = tuple(declared_operations())
# Every operation but these two names an existing customer by identifier.
WITHOUT_IDENTIFIER = {"customer_add", "customer_search"}
# FACTS.md, "Batch support (from the document)".
BATCH = {
    "customer_add",
    "customer_search",
    "customer_get",
    "customer_transactions",
    "customer_redemptions",
    "customer_tickets_get",
    "customer_referrals_add",
    "customer_referrals_get",
    "customer_preferences_update",
    "customer_preferences_get",
    "customer_interaction",
    "customer_subscriptions_update",
    "customer_subscriptions_get",
}
# FACTS.md, "Request-level status".
REQUEST_LEVEL = {
    200: "Success",
    201: "Some requests have failed due to errors",
    500: "All requests have failed due to errors",
    400: "Input is invalid, Please check request parameters or input xml/json",
    401: "Please check your username/password or authentication token",
    402: "Version is not supported for this resource",
    404: "Incorrect resource",
    405: "Incorrect HTTP Method",
    406: "Operation is not supported for the resource",
    407: "Unknown Error happened while processing the request",
    408: "Network MAC ID does not match",
}


def document_rows(title: str) -> list[tuple[tuple[int, ...], str]]:
    """Rows of one "Response Codes" table: (codes, message); empty Code cells continue."""
    lines = DOCUMENT.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"### {title}") + 3  # heading, header row, rule
    rows: list[tuple[tuple[int, ...], str]] = []
    numbers: tuple[int, ...] = ()
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        code_cell, message = (cell.strip() for cell in line.strip().strip("|").split("|"))
        numbers = tuple(map(int, re.findall(r"\d+", code_cell))) or numbers
        rows.append((numbers, message))
    return rows


def table_entries() -> list[codes.ItemCode]:
    return [entry for entry in codes.item_codes() if entry.source.table is not None]


@pytest.mark.parametrize("title", ["Success Codes", "Error Codes"])
def test_every_table_row_is_an_entry(title: str) -> None:
    rows = document_rows(title)
    expected = {(code, message) for numbers, message in rows for code in numbers}
    entries = [e for e in table_entries() if e.source.table == title]
    assert {(e.code, e.message) for e in entries} == expected
    assert {e.source.row for e in entries} == set(range(1, len(rows) + 1))
    for entry in entries:
        numbers, message = rows[entry.source.row - 1]
        assert entry.code in numbers and entry.message == message, entry


def test_1222_is_kept_twice_as_duplicate_rows() -> None:
    entries = [e for e in codes.item_codes() if e.code == 1222]
    assert len(entries) == 2
    assert len({e.source.row for e in entries}) == 2
    assert all("duplicate-row" in e.marks for e in entries)


def test_1008_and_1038_share_one_row() -> None:
    entries = [e for e in codes.item_codes() if e.code in (1008, 1038)]
    assert sorted(e.code for e in entries) == [1008, 1038]
    assert len({(e.source.row, e.message) for e in entries}) == 1
    assert all("shared-row" in e.marks and "1008/ 1038" in (e.note or "") for e in entries)


def test_request_codes_match_facts() -> None:
    table = codes.request_codes()
    assert {code: rc.message for code, rc in table.items()} == REQUEST_LEVEL
    assert table[200].success and not table[500].success


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_has_a_success_code(operation: str) -> None:
    assert any(e.kind == "success" for e in codes.codes_for(operation).values())


@pytest.mark.parametrize("operation", sorted(set(OPERATIONS) - WITHOUT_IDENTIFIER))
def test_not_found_codes_where_an_identifier_is_taken(operation: str) -> None:
    assert {1011, 1012} <= codes.codes_for(operation).keys()


def test_batch_limit_only_on_batch_operations() -> None:
    (entry,) = [e for e in codes.item_codes() if e.code == 1060]
    assert set(entry.operations) == BATCH


def test_item_code_raises_key_error_listing_applicable_codes() -> None:
    assert codes.item_code("customer_get", 1000).wire_message == "Customer successfully retrieved"
    with pytest.raises(KeyError, match=r"1301 does not apply .*: 1000, 1011, 1012"):
        codes.item_code("customer_coupons", 1301)


def test_operations_are_the_documented_ids() -> None:
    assert codes.operations() == OPERATIONS
    for entry in codes.item_codes():
        assert set(entry.operations) <= set(OPERATIONS), entry


def assert_refused(data: dict, section: str, index: int, key: str, value: object,
                   match: str) -> None:
    """The table with data[section][index][key] = value is refused, naming it."""
    broken = copy.deepcopy(data)
    broken[section][index][key] = value
    with pytest.raises(codes.CodeTableError, match=match):
        codes.validate(broken)


def test_a_malformed_entry_is_named() -> None:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    assert_refused(data, "item_level", 3, "marks", ["made-up-mark"],
                   r"item_level\[3\] \(code 1000\)")
    assert_refused(data, "item_level", 5, "operations", ["customer_nonesuch"],
                   r"item_level\[5\].*customer_nonesuch")


# Codes only the current reference shows (docs/defects.md D80, D81; FACTS names
# 1052, 8109, 91001 and 91017).
REFERENCE_ITEM_CODES = {1052: "customer_transactions", 8109: "customer_get"}
REFERENCE_WARNINGS = {1017, 91001, 91017}


def test_reference_codes_apply_to_their_operations() -> None:
    for code, operation in REFERENCE_ITEM_CODES.items():
        entry = codes.item_code(operation, code)
        assert "reference-only" in entry.marks
        assert entry.source.reference and entry.source.table is None
        assert str(entry.source).startswith("current reference, ")
    assert codes.item_code("customer_get", 8109).kind == "error"
    assert codes.item_code("customer_transactions", 1052).success


def test_reference_per_referral_code_keeps_the_item_code_of_the_table() -> None:
    entry = codes.item_code("customer_referrals_add", 1000)
    assert entry.source.table == "Success Codes"
    (referral,) = [e for e in codes.item_codes()
                   if e.code == 1000 and "per-referral" in e.marks]
    assert referral.message == "Refer was successful"


def test_warning_codes() -> None:
    table = {w.code: w for w in codes.warning_codes()}
    assert set(table) == REFERENCE_WARNINGS
    assert table[91001].operations == ("customer_transactions",)
    assert table[91017].message is None
    assert all(w.source.reference and w.note for w in table.values())


def test_a_reference_mark_needs_a_reference_source() -> None:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    index = next(i for i, e in enumerate(data["item_level"]) if e["code"] == 8109)
    assert_refused(data, "item_level", index, "source", {"table": "Error Codes", "row": 1},
                   r"item_level\[\d+\] \(code 8109\)")
    assert_refused(data, "warnings", 0, "operations", ["customer_nonesuch"],
                   r"warnings\[0\].*customer_nonesuch")

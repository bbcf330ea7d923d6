"""Collected by `pytest --pyargs capmock.contracts --base-url URL`: one item per
operation x format x check (see capmock.contracts.plugin)."""

from __future__ import annotations

from typing import Any

from capmock.contracts.plugin import judge
from capmock.contracts.runner import Matrix


def test_conformance(conformance_matrix: Matrix, conformance_cell: Any) -> None:
    """The server keeps this operation's promise in this format."""
    judge(conformance_matrix, conformance_cell)

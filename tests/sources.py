"""What the hand-edited contract sources declare, read directly from the files
(not through the built document), so tests can hold the generated artifacts and
the servers to them without counting operations in code."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

OPERATIONS_YAML = Path(__file__).resolve().parent.parent / "openapi" / "src" / "operations.yaml"


@cache
def declared() -> dict[str, Any]:
    return yaml.safe_load(OPERATIONS_YAML.read_text())["operations"]


def declared_operations() -> list[str]:
    """The operationIds of openapi/src/operations.yaml, in document order."""
    return list(declared())


def declared_paths() -> set[str]:
    return {op["path"] for op in declared().values()}

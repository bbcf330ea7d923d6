"""The static checks CI gates on, run by the same pytest command as the tests:
ruff (lint and import order, pyproject's [tool.ruff]) and mypy (the type checker,
pyproject's [tool.mypy], through .ci/typecheck). A finding fails the test and
its output is the failure message."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]' installs it")
    return str(path)


def test_ruff_finds_nothing() -> None:
    result = run(tool("ruff"), "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    tool("mypy")
    result = subprocess.run(["bash", str(ROOT / ".ci" / "typecheck")], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, check=False,
                            env={"PATH": f"{BIN}:/usr/bin:/bin", "PYTHON": sys.executable})
    assert result.returncode == 0, result.stdout + result.stderr

"""Test-suite wide setup: tests/ is on sys.path (pytest's rootdir conftest), so
shared helpers such as `serving` and `browser` import by module name from any
test folder; fixtures every folder may use live here."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed by .ci/browser when missing and we are root."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and only root may install it (run .ci/browser)")
    result = subprocess.run([str(REPO / ".ci" / "browser")], capture_output=True, text=True,
                            timeout=900, check=False)
    if result.returncode != 0:
        pytest.fail(f".ci/browser could not install chromium:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]

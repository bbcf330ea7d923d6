"""A non-editable install works from any directory: the spec, the XSDs and the
fixtures are package data, and nothing generic lands in site-packages."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    return next(out.glob("capmock-*.whl"))


def test_wheel_installs_everything_under_one_capmock_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("capmock-")}
    assert top == {"capmock"}
    for required in ("capmock/openapi/capillary-customer-v1.1.yaml",
                     "capmock/openapi/codes.yaml",
                     "capmock/openapi/xsd/customer_get.response.xsd",
                     "capmock/openapi/source/capillary-customer-v1.1.md",
                     "capmock/fixtures/samples.yaml",
                     "capmock/fixtures/defects.yaml",
                     "capmock/fixtures/samples/customer_get/default.response.xml",
                     "capmock/fixtures/errors/request/401.json"):
        assert required in names, required


def test_installed_wheel_lints_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    # -S: no site processing, so the editable install of the checkout is invisible;
    # the dependencies come from this venv's site-packages, capmock from the wheel.
    env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{sysconfig.get_path('purelib')}"}
    result = subprocess.run(
        [sys.executable, "-S", "-c",
         "import capmock.openapi as o, sys; print(o.__file__); "
         "from capmock.openapi.cli import main; sys.argv=['capmock','lint']; main()"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout.splitlines()[0]
    assert "accounted for" in result.stdout

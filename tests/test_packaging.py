"""A non-editable install works from any directory: the spec, the XSDs and the
fixtures are package data, and nothing generic lands in site-packages; and
`pip install .` in a fresh venv gives working commands, `capmock verify`
included (every runtime import is a declared dependency)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
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
                     "capmock/fixtures/errors/request/401.json",
                     "capmock/mockserver/proxy/record.yaml"):
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


# --- pip install . in a fresh venv: every command works, verify included ------------------

SUBCOMMANDS = ("build", "lint", "proxy", "seed", "serve", "verify")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel and nothing but its declared dependencies."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=900, check=False)
    assert install.returncode == 0, install.stderr[-3000:]
    return venv / "bin"


def run_in(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "capmock"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False)


def test_every_command_helps_without_a_traceback(fresh_venv: Path, tmp_path: Path) -> None:
    for args in [("--help",), *[(command, "--help") for command in SUBCOMMANDS]]:
        result = run_in(fresh_venv, *args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "Traceback" not in result.stderr and "Usage:" in result.stdout, args


@contextmanager
def mock_from(bin_dir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([str(bin_dir / "capmock"), "serve", "--port", str(port),
                                "--no-access-log"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/__capmock/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_verify_from_the_fresh_venv(fresh_venv: Path, tmp_path: Path) -> None:
    """verify passes the installed mock (exit 0, both formats) and says one line,
    exit 2, for a closed port and for a report it cannot write."""
    with mock_from(fresh_venv) as base_url:
        # the examples phase: that the installed suite runs and judges both formats
        # (the coverage phase, 40 s more here, is the in-tree self-test's business)
        passed = run_in(fresh_venv, "verify", "--base-url", base_url, "--phases",
                        "examples", "--max-examples", "1", cwd=tmp_path)
        unwritable = run_in(fresh_venv, "verify", "--base-url", base_url, "--report",
                            str(tmp_path / "no" / "r.html"), cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-3000:]
    assert "customer_get                  xml" in passed.stdout
    closed = run_in(fresh_venv, "verify", "--base-url", f"http://127.0.0.1:{free_port()}",
                    cwd=tmp_path)
    for result in (closed, unwritable):
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot reach" in closed.stderr and "cannot write" in unwritable.stderr


def test_the_partner_examples_pass_from_the_fresh_venv(fresh_venv: Path, tmp_path: Path) -> None:
    """The README's partner section: after `pip install .`, a partner's tests
    get the capmock_mock fixtures (pytest11 capmock-mock) with nothing else."""
    examples = Path(__file__).resolve().parents[1] / "docs" / "examples" / "partner"
    for source in examples.iterdir():
        if source.is_file():
            (tmp_path / source.name).write_bytes(source.read_bytes())
    result = subprocess.run([str(fresh_venv / "python"), "-m", "pytest", "-q"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout

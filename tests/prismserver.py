"""Stoplight Prism serving the project's own document: a server nobody here
wrote. Installed once with npm into .cache/prism (shared by
tests/openapi/test_prism.py and the verify self-test), started on a free
loopback port, stopped with the test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from capmock.openapi import contract

REPO = Path(__file__).resolve().parents[1]
PRISM_DIR = REPO / ".cache" / "prism"
PRISM = PRISM_DIR / "node_modules" / ".bin" / "prism"
PRISM_VERSION = "5"


def install() -> Path:
    if PRISM.exists():
        return PRISM
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: Prism (an npm package) cannot run here")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PRISM_DIR),
                    f"@stoplight/prism-cli@{PRISM_VERSION}"],
                   check=True, capture_output=True, timeout=300)
    return PRISM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prism(folder: Path) -> Iterator[str]:
    """Prism mocking the packaged document; yields its base URL."""
    spec = folder / "capillary.yaml"
    spec.write_text(contract.package_text(contract.SPEC_NAME), "utf-8")
    port = free_port()
    process = subprocess.Popen([str(install()), "mock", "-h", "127.0.0.1", "-p", str(port),
                                "-v", "error", str(spec)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail("prism exited before it answered")
            try:
                urllib.request.urlopen(base + "/v1.1/customer/get", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("prism did not start in time")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)

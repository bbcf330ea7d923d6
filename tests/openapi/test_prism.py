"""An independent OpenAPI mock (Stoplight Prism) starts on the document and
serves every operation: the document is usable outside capmock."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prismserver import free_port
from prismserver import install as install_prism

from capmock import fixtures
from capmock.openapi import contract

AUTH = "Basic " + base64.b64encode(b"till1:202cb962ac59075b964b07152d234b70").decode()

pytestmark = [pytest.mark.prism, pytest.mark.slow]




def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prism exited: {process.stdout.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail("prism did not start in time")


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = install_prism()
    spec_path = tmp_path_factory.mktemp("spec") / "capillary.yaml"
    spec_path.write_text(contract.package_text(contract.SPEC_NAME), "utf-8")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "error", str(spec_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/v1.1/customer/get", process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def documented_request(op: contract.Operation, base: str) -> urllib.request.Request:
    url_sample = fixtures.find(op.id, "default", "request", "url")
    path = url_sample.read_text().splitlines()[0].split(" ", 1)[1]
    body = None
    if op.method == "POST":
        body = fixtures.find(op.id, "default", "request", "json").read_bytes()
    return urllib.request.Request(
        base + path, data=body, method=op.method,
        headers={"Authorization": AUTH, "Accept": "application/json",
                 "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("operation", list(contract.operations()))
def test_prism_serves_the_operation(prism: str, operation: str) -> None:
    op = contract.operations()[operation]
    try:
        with urllib.request.urlopen(documented_request(op, prism), timeout=10) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        pytest.fail(f"prism answered {error.code} for {operation}: {error.read()[:500]!r}")
    assert status == 200
    assert "response" in json.loads(payload)

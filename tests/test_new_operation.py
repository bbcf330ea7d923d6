"""An operation is data: a new one is declared in data files only, and the
contract, the mock (replay and sandbox) and the suite take it up with not one
Python line changed (issue 10, "the proof").

The test lays out a copy of the repository's four package folders, declares
a 21st operation there, `GET customer/wishlist`, by adding to the data files
what customer/recommendations has in each of them (its entry in
operations.yaml, the code table, the samples index and its sample files, the
sandbox listings, the proxy's recording table) under the new name, and runs
the copy's own `capmock build`, `serve` and `verify`. The new operation shares
the recommendations' types (schemas.yaml), as a new operation may: what is
shown is that nothing in code lists the operations. Every `.py` file of the
copy is compared with the repository's at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from lxml import etree
from servehelpers import CAPMOCK, get, running

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("openapi", "fixtures", "mockserver", "contracts")
MODEL, NEW = "customer_recommendations", "customer_wishlist"
RENAMES = {MODEL: NEW, "customer/recommendations": "customer/wishlist"}
# Every data file that names the model operation, and what it holds for it.
DATA_FILES = ("openapi/src/operations.yaml", "openapi/codes.yaml", "fixtures/samples.yaml",
              "mockserver/sandbox/listings.yaml", "mockserver/proxy/record.yaml")
SAMPLES = f"fixtures/samples/{MODEL}"
CUSTOMER = "9988776655"  # the sample's customer, seeded in the sandbox with records


def renamed(value: Any) -> Any:
    """A deep copy of `value` with the model operation's names made the new one's."""
    if isinstance(value, str):
        for old, new in RENAMES.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {renamed(k): renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v) for v in value]
    return value  # a number, a boolean or None


def names_model(value: Any) -> bool:
    return isinstance(value, dict) and any(
        isinstance(v, str) and (v == MODEL or v.startswith(MODEL + "/")) for v in value.values())


def declare(value: Any) -> Any:
    """`value` with the new operation added wherever the model one is: a key
    beside its key, a name beside its name in a list, an entry beside each
    list entry about it (the samples index)."""
    if isinstance(value, dict):
        out = {k: declare(v) for k, v in value.items()}
        if MODEL in value:
            out[NEW] = renamed(value[MODEL])
        return out
    if isinstance(value, list):
        out = [declare(v) for v in value]
        out += [NEW] if MODEL in value else []
        return out + [renamed(v) for v in value if names_model(v)]
    return value


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in PACKAGES for p in (root / folder).rglob("*.py")
            if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's package folders with the new operation declared."""
    root = tmp_path_factory.mktemp("checkout")
    for folder in PACKAGES:
        shutil.copytree(REPO / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root)
    (root / "docs").mkdir()
    for name in DATA_FILES:
        path = root / name
        path.write_text(yaml.safe_dump(declare(yaml.safe_load(path.read_text("utf-8"))),
                                       sort_keys=False, allow_unicode=True), "utf-8")
    (root / SAMPLES.replace(MODEL, NEW)).mkdir()
    for sample in (root / SAMPLES).iterdir():
        (root / SAMPLES.replace(MODEL, NEW) / sample.name).write_text(
            renamed(sample.read_text("utf-8")), "utf-8")
    # the installed layout, capmock.<folder>, over the copy: PYTHONPATH comes
    # before the editable install's finder
    (root / "site" / "capmock").mkdir(parents=True)
    for folder in PACKAGES:
        (root / "site" / "capmock" / folder).symlink_to(root / folder)
    built = capmock(root, "build", "--root", str(root))
    assert built.returncode == 0, built.stdout + built.stderr
    return root


def environment(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root / "site")}


def capmock(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAPMOCK, *args], cwd=root, env=environment(root),
                          capture_output=True, text=True, timeout=timeout)


def test_the_copy_is_what_runs(checkout: Path) -> None:
    where = subprocess.run(
        [str(Path(CAPMOCK).with_name("python")), "-c",
         "import capmock.openapi, capmock.mockserver; print(capmock.openapi.__file__)"],
        env=environment(checkout), capture_output=True, text=True, check=True)
    assert where.stdout.strip() == str(checkout / "site/capmock/openapi/__init__.py")


def test_build_derives_the_new_operation_and_the_copy_is_in_sync(checkout: Path) -> None:
    document = yaml.safe_load((checkout / "openapi/capillary-customer-v1.1.yaml").read_text())
    operation = document["paths"]["/v1.1/customer/wishlist"]["get"]
    assert operation["operationId"] == NEW
    assert (checkout / f"openapi/xsd/{NEW}.response.xsd").is_file()
    assert sorted(p.name for p in (checkout / f"fixtures/errors/{NEW}").iterdir()) == \
        sorted(p.name for p in (REPO / f"fixtures/errors/{MODEL}").iterdir())
    checked = capmock(checkout, "build", "--root", str(checkout), "--check")
    assert checked.returncode == 0, checked.stdout
    linted = capmock(checkout, "lint")
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize("mode", ["replay", "sandbox"])
def test_the_mock_answers_the_new_operation_in_both_formats(checkout: Path, tmp_path: Path,
                                                            mode: str) -> None:
    args = ["--mode", mode, "--no-access-log", "--store", str(tmp_path / "s.sqlite")] \
        if mode == "sandbox" else ["--no-access-log"]
    env = environment(checkout)
    with running(tmp_path / "serve.log", *args, env=env) as server:
        query = f"mobile={CUSTOMER}&format="
        status, body = get(f"{server.base}/v1.1/customer/wishlist?{query}json")
        model_status, model = get(f"{server.base}/v1.1/customer/recommendations?{query}json")
        status_xml, xml = get(f"{server.base}/v1.1/customer/wishlist?{query}xml")
        unknown, missing = get(f"{server.base}/v1.1/customer/wishlist?mobile=919999000001")
    answer, expected = json.loads(body)["response"], json.loads(model)["response"]
    assert (status, model_status, status_xml) == (200, 200, 200)
    assert answer["customer"] == expected["customer"]  # the same data, under the new name
    assert answer["customer"][0]["mobile"] == CUSTOMER  # the platform wire: an array
    assert answer["customer"][0]["item_status"]["code"] == "1050"  # platform wire: a string
    schema = etree.XMLSchema(etree.parse(str(checkout / f"openapi/xsd/{NEW}.response.xsd")))
    schema.assertValid(etree.fromstring(xml))
    if mode == "sandbox":  # a customer the sandbox does not hold: the not-found rule
        assert unknown == 200
        item = json.loads(missing)["response"]["customer"][0]["item_status"]
        assert item["code"] == "1012"


def test_verify_judges_the_new_operation_and_passes_it(checkout: Path, tmp_path: Path) -> None:
    with running(tmp_path / "serve.log", "--no-access-log", env=environment(checkout)) as server:
        verified = capmock(checkout, "verify", "--base-url", server.base, "--operations", NEW,
                           "--phases", "examples,coverage", "--json-report",
                           str(tmp_path / "r.json"))
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert {cell["operation"] for cell in report["cells"]} == {NEW}
    assert sum(cell["judged"] for cell in report["cells"]) > 0


def test_not_one_python_file_was_changed(checkout: Path) -> None:
    copied, ours = digests(checkout), digests(REPO)
    assert copied == ours
    assert len(ours) > 50

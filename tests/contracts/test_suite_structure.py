"""The suite's structure (issue 10, item 3): each run's settings reach its
checks through schemathesis, so two runs in one process never see each
other's; one option table feeds `capmock verify` and the pytest plugin; one
module sends the suite's own requests; the results and the reports need no
schemathesis; the check names are declared once (contracts/options.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import _pytest.config.argparsing
import pytest
from faults import Faulty
from flask import Flask
from schemathesis.checks import CHECKS as REGISTRY

from capmock.contracts import checks, cli, options, plugin, runner, stateful
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app

CONTRACTS = Path(checks.__file__).parent
LEAVING = {"proxy.py", "proxy_cli.py"}  # the proxy is a server of its own (issue 10 item 4)


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(Settings())


def strict_cell(matrix: runner.Matrix) -> str:
    return matrix.cells[("customer_get", "xml", "xml_conforms_to_xsd")].state


def test_two_runs_in_one_process_keep_their_own_settings(app: Flask) -> None:
    """A strict and a lenient run at the same time, in two threads of one process:
    the undeclared element fails the strict one only."""
    faulty = Faulty(app, "undeclared-element")
    results: dict[str, Any] = {}

    def run(profile: str) -> None:
        results[profile] = runner.run(options.Options(
            base_url="http://127.0.0.1", app=faulty, formats=("xml",), phases=("examples",),
            operations=("customer_get",), max_examples=3, profile=profile))

    threads = [threading.Thread(target=run, args=(p,)) for p in ("strict", "lenient", "strict")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert strict_cell(results["strict"]) == "fail"
    assert strict_cell(results["lenient"]) == "pass"
    assert "strict" in results["strict"].cells[
        ("customer_get", "xml", "xml_conforms_to_xsd")].failures[0]


def test_a_check_reads_the_settings_its_context_carries() -> None:
    strict = checks.RunSettings(options.Options(profile="strict"))

    config = SimpleNamespace(custom_kwargs={})
    strict.carry(config, ["json_conforms_to_schema", "status_code_conformance"])
    ctx = SimpleNamespace(config=config)
    assert checks.settings_of(ctx, "json_conforms_to_schema") is strict
    assert "status_code_conformance" not in config.custom_kwargs  # schemathesis's own
    assert checks.settings_of(None, "json_conforms_to_schema").options.profile == "lenient"


def test_the_registered_checks_are_the_declared_names() -> None:
    ours = {check.__name__ for check in REGISTRY.get_all()
            if check.__module__.startswith("capmock.")}
    assert set(options.BUILTIN_CHECKS) <= set(REGISTRY.get_all_names())
    assert ours == set(options.CHECKS) - {options.SERVER_ANSWERS, *options.BUILTIN_CHECKS,
                                          *options.WORKFLOW_ONLY}
    assert callable(stateful.unknown_customer_is_not_found)  # run by the workflows


def click_names() -> set[str]:
    return {name for param in cli.command.params for name in param.opts}


def pytest_names() -> set[str]:
    parser = _pytest.config.argparsing.Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    return {name for option in parser.getgroup(plugin.GROUP).options for name in option.names()}


def test_one_option_table_feeds_click_and_pytest() -> None:
    for name, choice, _default in options.table():
        flag = name.replace("_", "-")
        assert f"--{flag}" in click_names(), name
        assert f"--capmock-{flag}" in pytest_names(), name
        assert choice.help
    assert options.Options().formats == ("json", "xml")
    click_flags = {n for n in click_names() if n.startswith("--")}
    table_flags = {"--" + n.replace("_", "-") for n, _, _ in options.table()}
    assert click_flags - table_flags == {"--junit-xml", "--json-report", "--report"}


def test_the_pytest_options_become_the_same_options(tmp_path: Path) -> None:
    config = type("Config", (), {})()
    values = {"capmock_base_url": "http://127.0.0.1:1", "capmock_formats": "xml",
              "capmock_phases": "examples", "capmock_max_examples": 3,
              "capmock_profile": "strict", "capmock_fail_fast": True}
    config.getoption = lambda name, default=None: values.get(name, default)
    built = plugin.options_from(config)
    assert built == options.Options(base_url="http://127.0.0.1:1", formats=("xml",),
                                    phases=("examples",), max_examples=3, profile="strict",
                                    fail_fast=True)
    values["capmock_formats"] = "yaml"
    with pytest.raises(pytest.UsageError, match="unknown yaml"):
        plugin.options_from(config)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_transport_sends_the_suites_own_requests() -> None:
    senders = {path.name for path in CONTRACTS.glob("*.py")
               if path.name not in LEAVING
               and {"requests", "httpx", "urllib.request"} & imported_modules(path)}
    assert senders == {"transport.py"}


def test_the_results_and_reports_need_no_schemathesis(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["schemathesis"] = None  # any import of it fails
from pathlib import Path
from types import SimpleNamespace
from capmock.contracts import report
from capmock.contracts.results import Cell, Matrix, RunInfo
matrix = Matrix(info=RunInfo(base_url="http://x", formats=("json",), phases=("examples",),
                operations=("customer_get",), checks=(), profile="lenient",
                http_status="mirror", wire="platform", max_examples=1, seed=0, workers=1,
                request_timeout=1.0, auth=False))
matrix.cells[("customer_get", "json", "format_is_honoured")] = Cell(passed=2)
matrix.cells[("customer_get", "json", "envelope_is_coherent")] = Cell(
    passed=1, failed=1, failures=["bad"])
print(report.text_matrix(matrix))
report.write_junit(matrix, Path({str(tmp_path / "j.xml")!r}))
report.write_html(matrix, Path({str(tmp_path / "r.html")!r}), "t")
report.write_json(matrix, Path({str(tmp_path / "r.json")!r}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "FAIL 1/2" in result.stdout and "ok 2" in result.stdout
    assert (tmp_path / "j.xml").exists() and (tmp_path / "r.html").exists()

"""The pytest plugin coexists: in a pytest session that does not ask for the
suite it loads nothing but itself and the options module (not the contract,
the runner or the checks; schemathesis's own pytest plugin is schemathesis's), its options are
namespaced, and beside pytest-base-url (installed by the test extra, as
pytest-playwright and pytest-selenium install it) pytest starts, the other
plugin keeps --base-url, and the suite reads the server from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import _pytest.config.argparsing
import pytest
from flask import Flask
from serving import serving

from capmock.contracts import plugin
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app

UNRELATED = '''
import sys

LIGHT = {"capmock", "capmock.contracts", "capmock.contracts.plugin", "capmock.contracts.options",
         # the partner's fixtures (issue 13), the other pytest11 plugin: stdlib and pytest only
         "capmock.mockserver", "capmock.mockserver.pytest_plugin"}

def test_unrelated(base_url):
    assert base_url == "http://playwright.example"
    loaded = {m for m in sys.modules if m.startswith("capmock")}
    assert loaded <= LIGHT, loaded - LIGHT
'''


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=folder, capture_output=True, text=True, timeout=600, check=False)


def test_pytest_base_url_is_installed_beside_the_plugin() -> None:
    assert plugin.base_url_plugin_installed()


def test_an_unrelated_session_starts_and_loads_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "test_unrelated.py").write_text(UNRELATED)
    result = pytest_in(tmp_path, "-q", "--base-url", "http://playwright.example")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_options_are_namespaced(tmp_path: Path) -> None:
    result = pytest_in(tmp_path, "--help")
    options = [line.split()[0] for line in result.stdout.splitlines()
               if line.strip().startswith("--capmock")]
    assert len(options) >= 10
    group = result.stdout[result.stdout.index("capmock conformance:"):]
    group = group[: group.index("\n\n")]
    assert "--base-url" not in group  # pytest-base-url owns it here


def test_without_pytest_base_url_the_plugin_offers_base_url(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin, "base_url_plugin_installed", lambda: False)
    parser = _pytest.config.argparsing.Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    names = {name for option in parser.getgroup(plugin.GROUP).options for name in option.names()}
    assert {"--base-url", "--capmock-base-url", "--capmock-formats"} <= names


@pytest.fixture(scope="module")
def mock() -> Flask:
    return create_app(Settings())


@pytest.mark.parametrize("server_option", [("--base-url",),
                                           ("-p", "no:base_url", "--capmock-base-url")])
def test_the_suite_runs_through_pytest(mock: Flask, tmp_path: Path,
                                       server_option: tuple[str, ...]) -> None:
    junit = tmp_path / "junit.xml"
    with serving(mock) as base_url:
        result = pytest_in(tmp_path, "--pyargs", "capmock.contracts", *server_option, base_url,
                           "--capmock-phases", "examples", "--capmock-max-examples", "1",
                           "--capmock-operations", "customer_get", "--capmock-formats", "json",
                           "-q", "-rs", f"--junitxml={junit}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "no XML body came back" in result.stdout
    assert "customer_get-json-format_is_honoured" in junit.read_text()

"""The pytest front door of the conformance suite:

    pytest --pyargs capmock.contracts --base-url URL [--capmock-auth TILL:PASSWORD]
           [--capmock-formats json,xml] [--capmock-profile lenient|strict] ...

(every option of `capmock verify`'s run, from the one table in options.py,
as --capmock-NAME)

The same runner and checks as `capmock verify`: the suite runs once per
session and every operation x format x check becomes one pytest item that
passes, fails with the violations, or is skipped with the reason it judged
nothing. pytest's own --junitxml then names each failing check.

This module is what the pytest11 entry point loads into every pytest session
of an environment where capmock is installed, so it costs nothing until asked
for: it imports only the standard library and pytest (the runner, the
contract and schemathesis load when the conformance items are collected),
and its options cannot clash with other plugins. Every option is namespaced
`--capmock-*`. The server is `--capmock-base-url`, or `--base-url`: that
option belongs to pytest-base-url (used by pytest-playwright and
pytest-selenium) when it is installed, and the suite reads it from there;
only without that plugin does capmock register `--base-url` itself.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import pytest

GROUP = "capmock conformance"
BASE_URL_PLUGIN = "pytest-base-url"


def base_url_plugin_installed() -> bool:
    """Is pytest-base-url installed (and so the owner of --base-url)?"""
    try:
        metadata.distribution(BASE_URL_PLUGIN)
    except metadata.PackageNotFoundError:
        return False
    return True


def pytest_addoption(parser: pytest.Parser) -> None:
    """Every option of the suite's table (contracts/options.py), as --capmock-NAME."""
    from capmock.contracts import options as run_options  # stdlib only

    group = parser.getgroup(GROUP)
    for name, choice, default in run_options.table():
        flag = "--capmock-" + name.replace("_", "-")
        if choice.kind == "flag":
            group.addoption(flag, action="store_true", default=False, help=choice.help)
            continue
        convert = {"int": int, "float": float}.get(choice.kind, str)
        allowed = {"choices": choice.values()} if choice.kind == "choice" else {}
        group.addoption(flag, type=convert, default=run_options.spelled(default),
                        metavar=choice.metavar, help=choice.help, **allowed)
        if name == "base_url" and not base_url_plugin_installed():
            group.addoption("--base-url", dest="base_url",
                            help="Server under test (same as --capmock-base-url).")


def base_url(config: pytest.Config) -> str | None:
    """--capmock-base-url, else --base-url (ours or pytest-base-url's)."""
    return config.getoption("capmock_base_url") or config.getoption("base_url", None)


def value(config: pytest.Config, name: str, choice: Any) -> Any:
    """One option's value as Options holds it; a usage error names a wrong one."""
    from capmock.contracts import options as run_options

    raw = base_url(config) if name == "base_url" else config.getoption(f"capmock_{name}")
    problem = run_options.unwritable(raw) if choice.kind == "path" and raw else None
    if problem:
        raise pytest.UsageError(f"--capmock-{name}: {raw}: {problem}")
    if raw is None or choice.kind != "csv":
        number = choice.kind in ("int", "float")
        if number and raw is not None and not (
                (choice.low is None or raw >= choice.low)
                and (choice.high is None or raw <= choice.high)):
            raise pytest.UsageError(f"--capmock-{name.replace('_', '-')}: {raw} is out of range")
        return raw
    values = run_options.split(raw)
    wrong = run_options.unknown(choice, values)
    if wrong:
        raise pytest.UsageError(f"--capmock-{name.replace('_', '-')}: unknown "
                                f"{', '.join(sorted(wrong))}")
    return values


def options_from(config: pytest.Config) -> Any:
    """The suite's options from the command line; a usage error names the problem."""
    from capmock.contracts import options as run_options

    if not base_url(config):
        raise pytest.UsageError("pass --base-url (or --capmock-base-url)")
    values = {name: value(config, name, choice) for name, choice, _ in run_options.table()}
    return run_options.Options(**{k: v for k, v in values.items() if v is not None})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_cell" not in metafunc.fixturenames:
        return
    config = metafunc.config
    if not base_url(config):
        metafunc.parametrize("conformance_cell", [pytest.param(None, marks=pytest.mark.skip(
            reason="pass --base-url (or --capmock-base-url) to run the conformance suite"))])
        return
    from capmock.contracts.report import checks_for  # registers the checks with schemathesis
    from capmock.contracts.stateful import RELEVANT
    from capmock.openapi import contract

    options = options_from(config)
    cells = [(op, fmt, check) for op in options.operations or contract.operations()
             for fmt in options.formats for check in checks_for(options)
             if op in RELEVANT.get(check, (op,))]
    metafunc.parametrize("conformance_cell", cells,
                         ids=[f"{op}-{fmt}-{check}" for op, fmt, check in cells])


@pytest.fixture(scope="session")
def conformance_matrix(pytestconfig: pytest.Config) -> Any:
    """The suite's results (a runner.Matrix), computed once per session."""
    from capmock.contracts import runner

    return runner.run(options_from(pytestconfig))


def judge(matrix: Any, cell_key: tuple[str, str, str]) -> None:
    cell = matrix.cells.get(cell_key)
    if cell is None or cell.state == "skip":
        pytest.skip(cell.skipped if cell and cell.skipped else "not exercised")
    if cell.state == "fail":
        pytest.fail("\n\n".join(cell.failures), pytrace=False)

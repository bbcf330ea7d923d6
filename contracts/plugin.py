"""The pytest front door of the conformance suite:

    pytest --pyargs capmock.contracts --base-url URL [--capmock-auth TILL:PASSWORD]
           [--capmock-formats json,xml] [--capmock-profile lenient|strict]
           [--capmock-phases ...] [--capmock-operations ...] [--capmock-checks ...]
           [--capmock-max-examples N] [--capmock-workers N] [--capmock-seed N]
           [--capmock-http-status mirror|always-200] [--capmock-request-timeout S]

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
    from capmock.contracts import options as run_options  # stdlib only

    group = parser.getgroup(GROUP)
    group.addoption("--capmock-base-url", help="Server under test (runs the conformance suite).")
    if not base_url_plugin_installed():
        group.addoption("--base-url", dest="base_url",
                        help="Server under test (same as --capmock-base-url).")
    group.addoption("--capmock-auth", help="TILL:PASSWORD for the platform's HTTP Basic.")
    group.addoption("--capmock-formats", default="json,xml")
    group.addoption("--capmock-profile", default="lenient", choices=run_options.PROFILES)
    group.addoption("--capmock-phases", default=",".join(run_options.PHASES))
    group.addoption("--capmock-operations", default="")
    group.addoption("--capmock-checks", default="", help="Run only these checks.")
    group.addoption("--capmock-max-examples", type=int, default=10)
    group.addoption("--capmock-workers", type=int, default=1)
    group.addoption("--capmock-seed", type=int, default=0)
    group.addoption("--capmock-http-status", default="mirror",
                    choices=run_options.HTTP_STATUS)
    group.addoption("--capmock-request-timeout", type=float, default=10.0)


def csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def base_url(config: pytest.Config) -> str | None:
    """--capmock-base-url, else --base-url (ours or pytest-base-url's)."""
    return config.getoption("capmock_base_url") or config.getoption("base_url", None)


def options_from(config: pytest.Config) -> Any:
    """The suite's options from the command line; a usage error names the problem."""
    from capmock.contracts import options as run_options
    from capmock.openapi import contract

    def get(name: str) -> Any:
        return config.getoption(f"capmock_{name}")

    url = base_url(config)
    if not url:
        raise pytest.UsageError("pass --base-url (or --capmock-base-url)")

    formats, phases = csv(get("formats")), csv(get("phases"))
    operations, checks = csv(get("operations")), csv(get("checks"))
    for name, values, allowed in (("formats", formats, run_options.FORMATS),
                                  ("phases", phases, run_options.PHASES),
                                  ("operations", operations, tuple(contract.operations())),
                                  ("checks", checks, run_options.CHECKS)):
        unknown = set(values) - set(allowed)
        if unknown:
            raise pytest.UsageError(f"--capmock-{name}: unknown {', '.join(sorted(unknown))}")
    return run_options.Options(
        base_url=url, auth=get("auth"), formats=formats, profile=get("profile"),
        phases=phases, operations=operations, checks=checks, max_examples=get("max_examples"),
        workers=get("workers"), seed=get("seed"), http_status=get("http_status"),
        request_timeout=get("request_timeout"))


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

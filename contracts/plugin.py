"""The pytest front door of the conformance suite:

    pytest --pyargs capmock.contracts --base-url URL [--auth TILL:PASSWORD]
           [--formats json,xml] [--profile lenient|strict] [--phases ...]
           [--operations ...] [--max-examples N] [--workers N] [--seed N]
           [--http-status mirror|always-200]

The same runner and checks as `capmock verify`: the suite runs once per
session and every operation x format x check becomes one pytest item that
passes, fails with the violations, or is skipped with the reason. pytest's
own --junitxml then names each failing check.
"""

from __future__ import annotations

from typing import Any

import pytest

from capmock.contracts import options as run_options
from capmock.openapi import contract

GROUP = "capmock conformance"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP)
    group.addoption("--base-url", help="Server under test (enables the conformance suite).")
    group.addoption("--auth", help="TILL:PASSWORD for the platform's HTTP Basic.")
    group.addoption("--formats", default="json,xml")
    group.addoption("--profile", default="lenient", choices=contract.PROFILES)
    group.addoption("--phases", default=",".join(run_options.PHASES))
    group.addoption("--operations", default="")
    group.addoption("--max-examples", type=int, default=10)
    group.addoption("--workers", type=int, default=1)
    group.addoption("--seed", type=int, default=0)
    group.addoption("--http-status", default="mirror", choices=("mirror", "always-200"))


def csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def options_from(config: pytest.Config) -> run_options.Options:
    """The suite's options from the command line; a usage error names the problem."""
    get = config.getoption
    formats, phases, operations = csv(get("formats")), csv(get("phases")), csv(get("operations"))
    for name, values, allowed in (("--formats", formats, run_options.FORMATS),
                                  ("--phases", phases, run_options.PHASES),
                                  ("--operations", operations, tuple(contract.operations()))):
        unknown = set(values) - set(allowed)
        if unknown:
            raise pytest.UsageError(f"{name}: unknown {', '.join(sorted(unknown))}")
    return run_options.Options(
        base_url=get("base_url"), auth=get("auth"), formats=formats, profile=get("profile"),
        phases=phases, operations=operations, max_examples=get("max_examples"),
        workers=get("workers"), seed=get("seed"), http_status=get("http_status"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_cell" not in metafunc.fixturenames:
        return
    config = metafunc.config
    if not config.getoption("base_url"):
        metafunc.parametrize("conformance_cell", [pytest.param(None, marks=pytest.mark.skip(
            reason="pass --base-url to run the conformance suite"))])
        return
    from capmock.contracts.report import NAMES  # registers the checks with schemathesis

    options = options_from(config)
    cells = [(op, fmt, check) for op in options.operations or contract.operations()
             for fmt in options.formats for check in NAMES]
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

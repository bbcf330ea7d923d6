"""The conformance suite against the sandbox: every check passes, and the
stateful checks run (the probe finds state) and pass."""

from __future__ import annotations

import pytest

from capmock.contracts import runner
from capmock.contracts.options import Options
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import contract

STATEFUL = ("registrations_are_read_back", "identifiers_never_change", "writes_are_read_back",
            "unknown_customer_is_not_found", "identity_change_is_pending")


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "store"), [
    ("json", ":memory:"), ("xml", ":memory:"),
    pytest.param("json", "postgresql", marks=pytest.mark.requires_postgres)])
def test_the_suite_passes_against_the_sandbox(fmt: str, store: str,
                                               request: pytest.FixtureRequest) -> None:
    if store == "postgresql":
        store = request.getfixturevalue("postgres_url")
    app = create_app(Settings(mode="sandbox", store=store))
    try:
        matrix = runner.run(Options(base_url="http://127.0.0.1", app=app, formats=(fmt,),
                                    phases=("examples", "coverage", "stateful"),
                                    max_examples=10, operations=tuple(contract.operations())))
    finally:
        app.extensions["capmock"].sandbox.store.close()
    assert not matrix.failed, [(k, c.failures[:1]) for k, c in matrix.cells.items() if c.failed]
    ran = {name: cell.state for (_, _, name), cell in matrix.cells.items() if name in STATEFUL}
    assert set(ran) == set(STATEFUL) and "skip" not in ran.values(), ran

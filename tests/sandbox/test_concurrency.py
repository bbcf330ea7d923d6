"""1,000 concurrent registrations from several processes against a real
`capmock serve --mode sandbox --workers 2`, on SQLite and on PostgreSQL (also
two instances on one database, as behind a load balancer): no customer is
registered twice, none is lost.

Processes 0 and 1 (and 2 and 3) register the same mobile at the same step, one
with the email in capitals: for every shared mobile two requests race, on
different workers or instances. The loser of the race finds the winner's
customer and updates it (add with a known identifier), so every request is
acknowledged and every mobile belongs to exactly one customer.
"""

from __future__ import annotations

import http.client
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sandboxhelpers import race

pytestmark = pytest.mark.slow

PROCESSES = 4
PER_PROCESS = 250  # 4 x 250 = 1,000 registrations
SHARED = 1000  # mobile numbers registered by two processes at once ...
OWN = 2000  # ... and by one process only


def number(process: int, step: int) -> int:
    if step % 2 == 0:  # the pair (0, 1) and the pair (2, 3) race for it
        return SHARED + process // 2 * PER_PROCESS // 2 + step // 2
    return OWN + process * PER_PROCESS // 2 + step // 2


def registration(process: int, step: int) -> dict[str, str]:
    n = number(process, step)
    email = f"racer{n}@example.com"
    return {"mobile": f"91777{n:07d}", "email": email.upper() if process % 2 else email,
            "firstname": f"P{process}S{step}"}


def expected_mobiles() -> set[str]:
    return {registration(p, s)["mobile"] for p in range(PROCESSES) for s in range(PER_PROCESS)}


def register_all(servers: list[Any], process: int, start: Any, results: Any) -> None:
    """One client process: its registrations in order; (mobile, acknowledged,
    user_id or what went wrong) for each."""
    server = servers[process % len(servers)]
    outcomes = []
    try:
        start.wait(60)
        for step in range(PER_PROCESS):
            customer = registration(process, step)
            try:
                status, item = server.add(customer, timeout=60)
            except (OSError, http.client.HTTPException) as error:
                outcomes.append((customer["mobile"], False, repr(error)))
                continue
            ok = server.acknowledged(status, item)
            outcomes.append((customer["mobile"], ok,
                             item.get("user_id") if ok else f"{status} {item}"))
        results.put(outcomes)
    except BaseException:
        results.put(traceback.format_exc())


def run_clients(servers: list[Any]) -> list[tuple[str, bool, str]]:
    answers = race(register_all, [(servers, p) for p in range(PROCESSES)], timeout=120)
    errors = [a for a in answers if isinstance(a, str)]
    assert not errors, errors[0]
    return [outcome for answer in answers for outcome in answer]


def check(outcomes: list[tuple[str, bool, str]], stored: list[str],
          stored_ids: dict[str, str]) -> None:
    assert len(outcomes) == PROCESSES * PER_PROCESS
    failed = [o for o in outcomes if not o[1]]
    assert not failed, f"{len(failed)} registrations not acknowledged, e.g. {failed[:3]}"
    duplicates = [m for m, n in Counter(stored).items() if n > 1]
    assert not duplicates, f"registered more than once: {duplicates[:5]}"
    ours = {m for m in stored if m.startswith("91777")}
    assert ours == expected_mobiles(), f"lost: {sorted(expected_mobiles() - ours)[:5]}"
    wrong = [(m, user_id, stored_ids[m]) for m, _, user_id in outcomes
             if stored_ids[m] != user_id]  # a race answered with a customer that is gone
    assert not wrong, f"acknowledged as another customer than the stored one: {wrong[:5]}"


def stored(url: str) -> tuple[list[str], dict[str, str]]:
    from capmock.mockserver.sandbox import transfer
    from capmock.mockserver.sandbox.store import open_store

    store = open_store(url)
    try:
        customers = transfer.export(store)["customers"]
    finally:
        store.close()
    mobiles = [c["mobile"] for c in customers if c.get("mobile")]
    emails = [c["email"].lower() for c in customers if c.get("email")]
    assert len(emails) == len(set(emails)), "an email registered twice (case-insensitively)"
    return mobiles, {c["mobile"]: c["user_id"] for c in customers if c.get("mobile")}


def test_concurrent_registrations_are_neither_duplicated_nor_lost(
        store_url: str, serve: Callable[..., Any], databases: Any) -> None:
    server = serve("--workers", "2", "--store", store_url)
    databases.settle()
    outcomes = run_clients([server])
    check(outcomes, *stored(store_url))
    assert server.stop() == 0


@pytest.mark.requires_postgres
def test_two_instances_on_one_database_share_the_sandbox(
        postgres_url: str, serve: Callable[..., Any], databases: Any) -> None:
    """Behind a load balancer: each pair of racing processes talks to both instances."""
    servers = [serve("--workers", "2", "--store", postgres_url) for _ in range(2)]
    databases.settle()
    outcomes = run_clients(servers)
    check(outcomes, *stored(postgres_url))
    for server in servers:
        assert server.stop() == 0

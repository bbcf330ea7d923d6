"""The PostgreSQL sandbox as a real server treats its clients: connections
dropped (pg_terminate_backend, idle-session timeout, a server that went
away), deadlocks and serialization failures, imports and resets while
writers run.

Each test provokes the failure itself on its own fresh database (never on
another one): it terminates only that database's backends, sets only that
database's parameters, and adds its triggers only there. The sandbox runs in
process (a Flask test client; several threads where the test needs them);
each thread has its own connection, as in a granian worker.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sandboxhelpers import ADMIN, close_stores, code_of, get, listed, post, sandbox

from capmock.mockserver.sandbox import transfer
from capmock.mockserver.sandbox.store import open_store
from capmock.openapi import codes

pytestmark = pytest.mark.requires_postgres
T = TypeVar("T")
WAIT_S = 30  # for what the database must show (a waiting backend ...): a busy machine is slow
ALL_FAILED = codes.request_codes()[500].message


# --- the test's own database -------------------------------------------------------------

@contextmanager
def connected(url: str) -> Iterator[Any]:
    """A connection of the test's own to its database (not the sandbox's)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        yield conn


def name_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def others(conn: Any) -> list[int]:
    """The backends of this database but `conn`'s own: the sandbox's connections."""
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()").fetchall()
    return [pid for (pid,) in rows]


def terminate(conn: Any, pids: list[int]) -> None:
    """pg_terminate_backend each of them and wait until they are gone."""
    assert pids, "the sandbox has no connection to terminate"
    for pid in pids:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_for(lambda: not set(pids) & set(others(conn)), "the backends to end")


def waiting(conn: Any, event_type: str = "Lock", query: str | None = None) -> list[int]:
    """The other backends of this database waiting on `event_type` (running `query`)."""
    rows = conn.execute(
        "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND wait_event_type = %s", (event_type,)).fetchall()
    return [pid for pid, text in rows if query is None or text.strip() == query]


def wait_for(found: Callable[[], T], what: str, seconds: float = WAIT_S) -> T:
    deadline = time.monotonic() + seconds
    while not (value := found()):
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.01)
    return value


def set_for_database(url: str, **parameters: str) -> None:
    """ALTER DATABASE <the test's> SET ...: sessions opened afterwards get it."""
    with connected(url) as conn:
        for name, value in parameters.items():
            conn.execute(f"ALTER DATABASE {name_of(url)} SET {name} = '{value}'")


@pytest.fixture
def box(postgres_url: str) -> Iterator[FlaskClient]:
    """A sandbox on the test's database; its connections closed before it is dropped."""
    yield sandbox(store=postgres_url)
    close_stores()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8, thread_name_prefix="resilience") as threads:
        yield threads


# --- what the sandbox answers ------------------------------------------------------------

def customer(n: int, **more: str) -> dict[str, str]:
    return {"mobile": f"91555{n:07d}", "firstname": f"R{n}", **more}


def register(c: FlaskClient, *numbers: int) -> None:
    status, answer = post(c, "add", [customer(n) for n in numbers])
    assert status == 200, answer


def firstname(c: FlaskClient, n: int) -> str:
    status, answer = get(c, "get", f"mobile={customer(n)['mobile']}")
    assert status == 200, answer
    [item] = answer["customers"]["customer"]  # the platform's JSON: an array, of one here
    assert code_of(item) == 1000, answer
    return item["firstname"]


def rename(c: FlaskClient, names: dict[int, str]) -> tuple[int, dict[str, Any]]:
    """customer/add of known customers with a new firstname, in one request (add
    takes a batch, update does not), in this order: each is locked in turn."""
    return post(c, "add", [customer(n, firstname=name) for n, name in names.items()])


def updated(answer: tuple[int, dict[str, Any]]) -> None:
    status, body = answer
    assert status == 200, body
    assert all(code_of(item) == 1000 for item in listed(body["customers"]["customer"])), body


def refused(answer: tuple[int, dict[str, Any]], detail: str, fmt: str = "json") -> None:
    """The store's refusal: request-level 500 in the envelope, saying why. The platform's
    HTTP status policy (the default) answers code 500 with HTTP 200; its JSON writes the
    code as a number, XML as text."""
    status, body = answer
    assert status == 200, body
    code = 500 if fmt == "json" else "500"
    assert body["status"]["success"] == "false" and body["status"]["code"] == code, body
    message = body["status"]["message"]
    assert message.startswith(ALL_FAILED) and detail in message, message


# --- dropped connections ----------------------------------------------------------------

def test_connections_the_server_terminated_are_replaced(box: FlaskClient,
                                                        postgres_url: str) -> None:
    register(box, 1)
    with connected(postgres_url) as conn:
        terminate(conn, others(conn))
        assert firstname(box, 1) == "R1"  # a read on a new connection
        terminate(conn, others(conn))
        updated(rename(box, {1: "Again"}))  # and a write
    assert firstname(box, 1) == "Again"


def test_an_idle_connection_the_server_reaped_is_replaced(postgres_url: str) -> None:
    set_for_database(postgres_url, idle_session_timeout="300ms")
    c = sandbox(store=postgres_url)  # its connections get the timeout
    try:
        register(c, 1)
        time.sleep(1)  # the server ends the idle connection
        assert firstname(c, 1) == "R1"
        time.sleep(1)
        updated(rename(c, {1: "Again"}))
        assert firstname(c, 1) == "Again"
    finally:
        close_stores()


def test_a_connection_lost_mid_transaction_is_run_again_once(
        box: FlaskClient, postgres_url: str, pool: ThreadPoolExecutor) -> None:
    """The update waits for a row lock when its backend is terminated: nothing
    was committed, so the whole transaction runs again on a new connection."""
    register(box, 1)
    with connected(postgres_url) as holder, connected(postgres_url) as conn:
        holder.execute("BEGIN")
        holder.execute("SELECT id FROM customers WHERE mobile = %s FOR UPDATE",
                       (customer(1)["mobile"],))
        answer = pool.submit(rename, box, {1: "Once"})
        blocked = wait_for(lambda: waiting(conn), "the update to wait for the row lock")
        terminate(conn, blocked)
        holder.execute("ROLLBACK")
        updated(answer.result(WAIT_S))
    assert firstname(box, 1) == "Once"


def test_a_connection_lost_during_commit_is_not_run_again(
        box: FlaskClient, postgres_url: str, pool: ThreadPoolExecutor) -> None:
    """COMMIT runs a deferred trigger that sleeps (the first time only) and the
    backend is terminated meanwhile: the outcome is unknown to the sandbox, so
    it answers so and does not replay (a replay would commit the registration:
    the trigger no longer sleeps)."""
    with connected(postgres_url) as conn:
        conn.execute("CREATE SEQUENCE commits_seen")
        conn.execute("""
            CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('commits_seen') = 1 THEN PERFORM pg_sleep(60); END IF;
                RETURN NULL;
            END $$""")
        conn.execute("CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON customers "
                     "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()")
        answer = pool.submit(post, box, "add", [customer(1)])
        committing = wait_for(lambda: waiting(conn, "Timeout", "COMMIT"),
                              "the registration to commit")
        terminate(conn, committing)
        refused(answer.result(WAIT_S), "it may or may not have been stored")
        assert conn.execute("SELECT last_value FROM commits_seen").fetchone()[0] == 1
    _, answer = get(box, "get", f"mobile={customer(1)['mobile']}")
    # the aborted commit stored nothing
    assert [code_of(i) for i in answer["customers"]["customer"]] == [1012]


# --- deadlocks and serialization failures -----------------------------------------------

def test_a_deadlock_is_retried(postgres_url: str, pool: ThreadPoolExecutor) -> None:
    """The sandbox's update locks customer 1, then waits for customer 2, which
    the test's transaction holds; the test's transaction then waits for
    customer 1. The sandbox's backend finds the deadlock (its deadlock_timeout
    is the shorter) and is aborted; the update runs again once the test's
    transaction has committed."""
    set_for_database(postgres_url, deadlock_timeout="2s")
    c = sandbox(store=postgres_url)
    try:
        register(c, 1, 2)
        with connected(postgres_url) as other, connected(postgres_url) as conn:
            other.execute("SET deadlock_timeout = '120s'")
            other.execute("BEGIN")
            other.execute("SELECT id FROM customers WHERE mobile = %s FOR UPDATE",
                          (customer(2)["mobile"],))
            answer = pool.submit(rename, c, {1: "First", 2: "Second"})
            wait_for(lambda: waiting(conn), "the update to wait for customer 2")
            other.execute("UPDATE customers SET doc = doc WHERE mobile = %s",
                          (customer(1)["mobile"],))  # waits until the deadlock is broken
            other.execute("COMMIT")
            updated(answer.result(WAIT_S))
        assert (firstname(c, 1), firstname(c, 2)) == ("First", "Second")
    finally:
        close_stores()


def test_a_serialization_failure_is_retried(postgres_url: str,
                                            pool: ThreadPoolExecutor) -> None:
    """With repeatable read as the database's default, an update that finds its
    row changed by a transaction committed after its snapshot fails with 40001
    and runs again on a new snapshot."""
    set_for_database(postgres_url, default_transaction_isolation="repeatable read")
    c = sandbox(store=postgres_url)
    try:
        register(c, 1)
        with connected(postgres_url) as other, connected(postgres_url) as conn:
            other.execute("BEGIN")
            other.execute("UPDATE customers SET doc = doc WHERE mobile = %s",
                          (customer(1)["mobile"],))
            answer = pool.submit(rename, c, {1: "Serial"})
            wait_for(lambda: waiting(conn), "the update to wait for the row")
            other.execute("COMMIT")
            updated(answer.result(WAIT_S))
        assert firstname(c, 1) == "Serial"
    finally:
        close_stores()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_contention_that_outlasts_the_retries_is_an_envelope_error(
        box: FlaskClient, postgres_url: str, fmt: str) -> None:
    """Every try is aborted (a trigger raises 40001 and counts the tries): five
    tries, then request-level 500 naming the cause, in the asked format."""
    with connected(postgres_url) as conn:
        conn.execute("CREATE SEQUENCE tries_seen")
        conn.execute("""
            CREATE FUNCTION always_aborted() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM nextval('tries_seen');
                RAISE EXCEPTION 'provoked by the test' USING ERRCODE = 'serialization_failure';
            END $$""")
        conn.execute("CREATE TRIGGER always_aborted BEFORE INSERT ON customers "
                     "FOR EACH ROW EXECUTE FUNCTION always_aborted()")
        refused(post(box, "add", [customer(1)], fmt=fmt),
                "aborting the transaction (provoked by the test; tries: 5)", fmt)
        assert conn.execute("SELECT last_value FROM tries_seen").fetchone()[0] == 5


def test_a_database_that_is_gone_is_an_envelope_error(
        box: FlaskClient, postgres_url: str, databases: Any) -> None:
    """The test's database is dropped under the sandbox (by the fixture's own
    pool, which drops it again, harmlessly, at the end): reads and writes
    answer request-level 500, not 407, and the admin endpoints 503."""
    register(box, 1)
    databases.give_back(name_of(postgres_url))  # DROP DATABASE ... WITH (FORCE)
    databases.settle()
    refused(get(box, "get", f"mobile={customer(1)['mobile']}"), "cannot be reached")
    refused(post(box, "add", [customer(2)]), "cannot be reached")
    for answer in (box.get("/__capmock/sandbox/export"),
                   box.post("/__capmock/sandbox/reset", headers=ADMIN)):
        assert answer.status_code == 503, answer.data[:300]
        assert "cannot be reached" in answer.get_json()["error"]


# --- import and reset while writers run --------------------------------------------------

IMPORTS = 50  # imports and resets racing the writers
WRITERS = 3
FILES = {1: range(100, 120), 2: range(200, 230)}  # numbers of each file's customers


def sandbox_file(which: int) -> dict[str, Any]:
    """Customers with their own user_ids: an import of one file after the other
    wants ids and mobiles that writers may be taking meanwhile."""
    return {**transfer.FORMAT, "customers": [
        {"user_id": str(k + 1), **customer(n, lastname=f"file{which}")}
        for k, n in enumerate(FILES[which])]}


class Writers:
    """Threads registering customers until stopped: the mobiles of both files
    in turn (known or not, depending on which file the sandbox holds) and new
    ones; every answer is kept with when its request was sent."""

    def __init__(self, c: FlaskClient) -> None:
        self.app = c.application
        self.stop = threading.Event()
        self.answers: list[tuple[float, int, int, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def write(self, writer: int) -> None:
        client = self.app.test_client()
        numbers = [*FILES[1], *FILES[2]]
        step = 0
        while not self.stop.is_set():
            n = numbers[(writer * 7 + step) % len(numbers)] if step % 3 else \
                1000 + writer * 10000 + step
            sent = time.monotonic()
            status, body = post(client, "add", [customer(n, firstname=f"W{writer}")])
            with self.lock:
                self.answers.append((sent, n, status, body))
            step += 1


def import_all(c: FlaskClient) -> list[tuple[float, int, int, Any]]:
    """IMPORTS imports of the two files in turn, every fifth a reset (the last
    is an import): (when it was answered, which file (0: reset), status, answer)."""
    done = []
    for k in range(IMPORTS):
        which = 0 if k % 5 == 2 else 1 + k % 2
        if which:
            answer = c.post("/__capmock/sandbox/import", data=json.dumps(sandbox_file(which)),
                            content_type="application/json")
        else:
            answer = c.post("/__capmock/sandbox/reset", headers=ADMIN)
        done.append((time.monotonic(), which, answer.status_code, answer.get_json()))
    return done


def test_imports_and_resets_racing_writers_are_never_refused(
        box: FlaskClient, postgres_url: str, pool: ThreadPoolExecutor) -> None:
    writers = Writers(box)
    running: list[Future[None]] = [pool.submit(writers.write, w) for w in range(WRITERS)]
    try:
        wait_for(lambda: len(writers.answers) > 10, "the writers to start")
        imports = import_all(box)
    finally:
        writers.stop.set()
        for writer in running:
            writer.result(WAIT_S)
    refusals = [(which, status, body) for _, which, status, body in imports if status != 200]
    assert not refusals, f"{len(refusals)} of {IMPORTS} valid files refused: {refusals[:3]}"
    failed = [(status, body) for *_, status, body in writers.answers
              if status != 200 or [code_of(i) for i in body["customers"]["customer"]] != [1000]]
    assert not failed, f"{len(failed)} of {len(writers.answers)} writes failed: {failed[:3]}"
    consistent_after(postgres_url, imports[-1], writers.answers)


def consistent_after(url: str, last: tuple[float, int, int, Any],
                     writes: list[tuple[float, int, int, dict[str, Any]]]) -> None:
    """The last file's customers are there with the file's user_ids, every write
    sent after its import answered is there, the export imports again as it
    is, and new ids follow the largest one."""
    store = open_store(url)
    try:
        exported = transfer.export(store)
        ids = {c["mobile"]: c["user_id"] for c in exported["customers"] if c.get("mobile")}
        answered, which, *_ = last
        if which:
            wanted = {c["mobile"]: c["user_id"] for c in sandbox_file(which)["customers"]}
            assert {m: ids.get(m) for m in wanted} == wanted
        later = {customer(n)["mobile"] for sent, n, *_ in writes if sent > answered}
        assert later <= set(ids), f"writes lost: {sorted(later - set(ids))[:3]}"
        again = transfer.parse(transfer.dumps(exported))
        assert transfer.replace(store, again) == len(exported["customers"])
        assert transfer.export(store) == exported
        with store.transaction(write=True) as tx:
            new = tx.insert_customer({"mobile": customer(999999)["mobile"]})
        assert new.id > max(int(c["user_id"]) for c in exported["customers"])
    finally:
        store.close()

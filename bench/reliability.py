"""Reliability of the sandbox, counted once per store: what a kill -9 loses, and
what racing registrations duplicate.

Two trials, each on SQLite (a file in a temporary directory) and on PostgreSQL
(a fresh database on --postgres, dropped afterwards; its rows are skipped,
saying why, when no server answers), against real `capmock serve --mode
sandbox --workers 2 --no-access-log` processes on 127.0.0.1:

- kill   W writer threads register new customers as fast as the server
         answers; once K registrations are acknowledged (HTTP 200, item code
         1000) the server's whole process group gets SIGKILL, mid-burst. The
         server is started again on the same store and every acknowledged
         registration is read back with customer/get: `lost` counts those it
         does not find.
- race   N registrations from P client processes (forked, started together at
         a barrier): processes 0 and 1 (2 and 3 ...) send the same mobile at
         every even step, one with the email in capitals, each to another
         instance: 2 instances on one PostgreSQL database, or one instance
         with 2 workers on the SQLite file (a file serves one machine). The
         loser of a race finds the winner's customer and updates it, so every
         registration must be acknowledged. `duplicates` counts mobiles and
         emails (case-insensitively) stored more than once, `lost` the
         acknowledged mobiles not in the store, `wrong id` the acknowledgements
         naming another user_id than the stored customer's.

Prints one table and writes a JSON record (bench/results/reliability-<date>.json
unless --out says otherwise); exits 1 when a trial lost, duplicated or failed
anything. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import signal
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from capmock.mockserver.sandbox import transfer
from capmock.mockserver.sandbox.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mock_throughput as bench

HOST = bench.HOST
WORKERS = 2
ADD = "/v1.1/customer/add?format=json"
GET = "/v1.1/customer/get?format=json&user_id=true&mobile="
GET_BATCH = 100  # identifiers per customer/get (the default --batch-limit)
KILL_PREFIX = "91888"  # kill trial mobiles: 91888 + 7 digits
RACE_PREFIX = "91777"  # race trial mobiles
ACK_TIMEOUT_S = 120.0  # the burst must reach K acknowledgements within this
RACE_TIMEOUT_S = 600.0  # every client process must be done within this
POSTGRES_ENV = "CAPMOCK_TEST_POSTGRES"  # the same server the tests use, by default
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
STORES = ("sqlite", "postgresql")


# --------------------------------------------------------------------------- HTTP

def call(base: str, path: str, body: bytes | None = None, timeout: float = 30) -> \
        tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(base + path, body, headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def add(base: str, customer: dict[str, str], timeout: float = 30) -> tuple[int, dict[str, Any]]:
    """customer/add of one customer: the HTTP status and the answer's item."""
    status, answer = call(base, ADD, json.dumps({"root": {"customer": [customer]}}).encode(),
                          timeout)
    return status, answer.get("response", {}).get("customers", {}).get("customer", {})


def acknowledged(status: int, item: dict[str, Any]) -> bool:
    """The server says the registration is stored: HTTP 200 and item code 1000."""
    return status == 200 and item.get("item_status", {}).get("code") == "1000"


def found(base: str, mobiles: list[str]) -> set[str]:
    """The mobiles customer/get finds (item code 1000), GET_BATCH at a time."""
    seen = set()
    for start in range(0, len(mobiles), GET_BATCH):
        chunk = mobiles[start:start + GET_BATCH]
        _, answer = call(base, GET + ",".join(chunk), timeout=60)
        items = answer.get("response", {}).get("customers", {}).get("customer", [])
        for item in items if isinstance(items, list) else [items]:
            if item.get("item_status", {}).get("code") == "1000":
                seen.add(item.get("mobile"))
    return seen


# --------------------------------------------------------------------------- servers

def server(store: str, name: str) -> bench.Server:
    command = [*bench.capmock_command(), "serve", "--mode", "sandbox", "--host", HOST,
               "--port", str(bench.free_port()), "--workers", str(WORKERS),
               "--no-access-log", "--store", store]
    return bench.Server(name, command, workers=WORKERS)


def start(spec: bench.Server, work: Path) -> bench.Live:
    """A server that answers, all its workers started (bench.wait_until_up)."""
    port = spec.command[spec.command.index("--port") + 1]
    log = work / f"{spec.name}-{time.monotonic_ns()}.log"
    live = bench.launch(spec, int(port), log)
    try:
        bench.wait_until_up(live, "/__capmock/health")
    except BaseException:
        bench.stop(live.process)
        raise
    return live


@contextlib.contextmanager
def serving(spec: bench.Server, work: Path) -> Iterator[bench.Live]:
    live = start(spec, work)
    try:
        yield live
    finally:
        bench.stop(live.process)


def kill(live: bench.Live) -> None:
    """SIGKILL to the server's process group: granian's main process and workers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(live.process.pid, signal.SIGKILL)
    live.process.wait(timeout=30)


# --------------------------------------------------------------------------- stores

class Postgres:
    """Fresh databases on the server of an admin URL; each dropped after use."""

    def __init__(self, url: str) -> None:
        self.url = url

    def problem(self) -> str | None:
        """Why PostgreSQL rows cannot run, or None."""
        try:
            import psycopg
        except ImportError:
            return "psycopg is not installed (pip install 'capmock[postgres]')"
        try:
            psycopg.connect(self.url, connect_timeout=5).close()
        except psycopg.Error as error:
            return f"no PostgreSQL at {self.url}: {str(error).strip().splitlines()[0]}"
        return None

    def execute(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        name = f"capmock_reliability_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE DATABASE {name}")
        try:
            yield urlsplit(self.url)._replace(path=f"/{name}").geturl()
        finally:
            self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def store_for(kind: str, work: Path, postgres: Postgres) -> Iterator[str]:
    """Where a fresh store lives: a SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield str(work / f"sandbox-{uuid.uuid4().hex[:8]}.sqlite")
        return
    with postgres.database() as url:
        yield url


def stored(url: str) -> list[dict[str, Any]]:
    """Every customer the store holds (read by capmock's own export, one snapshot)."""
    store = open_store(url)
    try:
        return transfer.export(store)["customers"]
    finally:
        store.close()


# --------------------------------------------------------------------------- results

@dataclass
class Row:
    trial: str  # kill | race
    store: str  # sqlite | postgresql
    instances: int
    workers: int
    sent: int = 0  # registrations sent
    acknowledged: int = 0
    not_acknowledged: int = 0  # answered, but not HTTP 200 + item code 1000
    unanswered: int = 0  # connection refused or cut (kill: by the kill)
    lost: int = 0  # acknowledged and not found afterwards
    duplicates: int = 0  # race: mobiles or emails stored more than once
    wrong_id: int = 0  # race: acknowledged as another customer than the stored one
    seconds: float = 0.0
    skipped: str = ""  # why the row did not run
    examples: list[str] = field(default_factory=list)  # a few of whatever went wrong

    @property
    def holds(self) -> bool:
        """Nothing lost or duplicated, and (race) every registration acknowledged."""
        race_ok = self.trial != "race" or (self.not_acknowledged == 0 and self.unanswered == 0)
        return bool(self.skipped) or (self.lost == self.duplicates == self.wrong_id == 0
                                      and race_ok and self.sent > 0)


# --------------------------------------------------------------------------- kill -9

class Burst:
    """Writer threads registering new customers until stopped; every
    acknowledged registration is kept."""

    def __init__(self, base: str, writers: int) -> None:
        self.base, self.writers = base, writers
        self.acked: list[str] = []
        self.sent = self.refused = self.unanswered = 0
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.write, args=(w,), daemon=True)
                        for w in range(writers)]

    def write(self, writer: int) -> None:
        n = writer
        while not self.halt.is_set():
            mobile = f"{KILL_PREFIX}{n:07d}"
            customer = {"mobile": mobile, "email": f"k{n}@reliability.example",
                        "firstname": f"K{n}"}
            try:
                status, item = add(self.base, customer, timeout=10)
            except (OSError, http.client.HTTPException, ValueError):  # the kill
                with self.lock:
                    self.sent += 1
                    self.unanswered += 1
                time.sleep(0.01)
            else:
                with self.lock:
                    self.sent += 1
                    if acknowledged(status, item):
                        self.acked.append(mobile)
                    else:
                        self.refused += 1
            n += self.writers

    def run_until(self, acks: int, then: Callable[[], None]) -> None:
        for thread in self.threads:
            thread.start()
        deadline = time.monotonic() + ACK_TIMEOUT_S
        try:
            while len(self.acked) < acks:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(self.acked)} of {acks} registrations "
                                       f"acknowledged in {ACK_TIMEOUT_S:.0f} s")
                time.sleep(0.005)
            then()
            time.sleep(0.3)  # the writers meet the dead server
        finally:
            self.halt.set()
            for thread in self.threads:
                thread.join(30)


def kill_trial(kind: str, url: str, work: Path, acks: int, writers: int) -> Row:
    row = Row("kill", kind, 1, WORKERS)
    began = time.monotonic()
    live = start(server(url, f"kill-{kind}"), work)
    burst = Burst(live.base, writers)
    try:
        burst.run_until(acks, lambda: kill(live))
    finally:
        bench.stop(live.process)  # after a failure: whatever is left of it
    with serving(server(url, f"kill-{kind}-restarted"), work) as again:
        seen = found(again.base, burst.acked)
    missing = [m for m in burst.acked if m not in seen]
    in_store = {c.get("mobile") for c in stored(url)}
    missing += [m for m in burst.acked if m not in in_store and m not in missing]
    row.sent, row.acknowledged = burst.sent, len(burst.acked)
    row.not_acknowledged, row.unanswered = burst.refused, burst.unanswered
    row.lost, row.examples = len(missing), missing[:5]
    row.seconds = round(time.monotonic() - began, 1)
    return row


# --------------------------------------------------------------------------- race

@dataclass(frozen=True)
class Race:
    processes: int
    per_process: int

    def number(self, process: int, step: int) -> int:
        """Even steps: the number the process's pair shares; odd: its own."""
        half = (self.per_process + 1) // 2
        if step % 2 == 0:
            return process // 2 * half + step // 2
        return (self.processes // 2 + process) * half + step // 2

    def registration(self, process: int, step: int) -> dict[str, str]:
        n = self.number(process, step)
        email = f"racer{n}@reliability.example"
        return {"mobile": f"{RACE_PREFIX}{n:07d}",
                "email": email.upper() if process % 2 else email,
                "firstname": f"P{process}S{step}"}

    def mobiles(self) -> set[str]:
        return {self.registration(p, s)["mobile"] for p in range(self.processes)
                for s in range(self.per_process)}


def register_all(race: Race, bases: list[str], process: int, start: Any, results: Any) -> None:
    """One client process: its registrations in order; (mobile, acknowledged,
    user_id or what went wrong) for each."""
    base = bases[process % len(bases)]
    outcomes: list[tuple[str, bool | None, str]] = []
    try:
        start.wait(60)
        for step in range(race.per_process):
            customer = race.registration(process, step)
            try:
                status, item = add(base, customer, timeout=60)
            except (OSError, http.client.HTTPException, ValueError) as error:
                outcomes.append((customer["mobile"], None, repr(error)))
                continue
            ok = acknowledged(status, item)
            outcomes.append((customer["mobile"], ok,
                             str(item.get("user_id")) if ok else f"{status} {item}"[:200]))
        results.put(outcomes)
    except BaseException:
        results.put(traceback.format_exc())


def run_clients(race: Race, bases: list[str]) -> list[tuple[str, bool | None, str]]:
    """Fork the client processes; they start together at a barrier."""
    context = multiprocessing.get_context("fork")  # the children only speak HTTP
    barrier, results = context.Barrier(race.processes), context.Queue()
    children = [context.Process(target=register_all, args=(race, bases, p, barrier, results))
                for p in range(race.processes)]
    for child in children:
        child.start()
    try:
        answers = [results.get(timeout=RACE_TIMEOUT_S) for _ in children]
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
    crashed = [a for a in answers if isinstance(a, str)]
    if crashed:
        raise RuntimeError(f"a client process failed:\n{crashed[0]}")
    return [outcome for answer in answers for outcome in answer]


def race_trial(kind: str, url: str, work: Path, race: Race) -> Row:
    instances = 2 if kind == "postgresql" else 1
    row = Row("race", kind, instances, WORKERS)
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        lives = [stack.enter_context(serving(server(url, f"race-{kind}-{i}"), work))
                 for i in range(instances)]
        outcomes = run_clients(race, [live.base for live in lives])
    customers = [c for c in stored(url) if str(c.get("mobile", "")).startswith(RACE_PREFIX)]
    mobiles = Counter(c["mobile"] for c in customers)
    emails = Counter(c["email"].lower() for c in customers if c.get("email"))
    ids = {c["mobile"]: c["user_id"] for c in customers}
    twice = [m for m, n in mobiles.items() if n > 1] + [e for e, n in emails.items() if n > 1]
    acked = [(m, user_id) for m, ok, user_id in outcomes if ok]
    lost = sorted({m for m, _ in acked if m not in ids})
    wrong = [f"{m}: acknowledged {u}, stored {ids[m]}" for m, u in acked
             if m in ids and ids[m] != u]
    never = sorted(race.mobiles() - set(ids))  # not even a failed answer stored it
    row.sent, row.acknowledged = len(outcomes), len(acked)
    row.not_acknowledged = sum(1 for _, ok, _ in outcomes if ok is False)
    row.unanswered = sum(1 for _, ok, _ in outcomes if ok is None)
    row.lost, row.duplicates, row.wrong_id = len(lost), len(twice), len(wrong)
    failures = [f"{m}: {what}" for m, ok, what in outcomes if not ok]
    row.examples = (twice + lost + wrong + failures + [f"never stored: {m}" for m in never])[:5]
    row.seconds = round(time.monotonic() - began, 1)
    return row


# --------------------------------------------------------------------------- report

COLUMNS = ("trial", "store", "servers", "sent", "acknowledged", "not acked", "unanswered",
           "lost", "duplicates", "wrong id", "seconds")


def cells(row: Row) -> list[str]:
    if row.skipped:
        return [row.trial, row.store, "-", f"skipped: {row.skipped}"]
    servers = f"{row.instances} x {row.workers} workers"
    duplicates = str(row.duplicates) if row.trial == "race" else "-"
    wrong = str(row.wrong_id) if row.trial == "race" else "-"
    return [row.trial, row.store, servers, f"{row.sent:,}", f"{row.acknowledged:,}",
            str(row.not_acknowledged), str(row.unanswered), str(row.lost), duplicates, wrong,
            f"{row.seconds:.1f}"]


def table(rows: list[Row]) -> str:
    lines = [list(COLUMNS), *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines if i < len(line) and len(line) > 4)
              for i in range(len(COLUMNS))]
    out = []
    for line in lines:
        if len(line) == 4:  # skipped
            out.append("  ".join(c.ljust(w) for c, w in zip(line[:3], widths, strict=False))
                       + "  " + line[3])
        else:
            out.append("  ".join(c.rjust(w) if i > 2 else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(line, widths, strict=True))))
    return "\n".join(out)


def environment(postgres: Postgres, kinds: list[str]) -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    found_env: dict[str, Any] = {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(), "load_average": list(os.getloadavg()),
        **{name: version(name) for name in ("capmock", "granian", "psycopg")}}
    if "postgresql" in kinds and postgres.problem() is None:
        import psycopg

        with psycopg.connect(postgres.url, connect_timeout=10) as conn:
            found_env["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    return found_env


def save(path: Path, rows: list[Row], args: argparse.Namespace, env: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": env,
        "parameters": {"kill_acks": args.kill_acks, "writers": args.writers,
                       "registrations": args.processes * args.per_process,
                       "processes": args.processes, "workers": WORKERS,
                       "stores": args.stores},
        "rows": [{**asdict(row), "holds": row.holds} for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", "utf-8")


# --------------------------------------------------------------------------- main

def even(text: str) -> int:
    value = bench.positive(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f"expected an even number (pairs race), got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kill-acks", type=bench.positive, default=300,
                        help="acknowledged registrations before the kill -9 (300)")
    parser.add_argument("--writers", type=bench.positive, default=4,
                        help="writer threads of the burst (4)")
    parser.add_argument("--registrations", type=bench.positive, default=1000,
                        help="racing registrations in all (1000)")
    parser.add_argument("--processes", type=even, default=4,
                        help="racing client processes, an even number (4)")
    parser.add_argument("--stores", nargs="+", choices=STORES, default=list(STORES))
    parser.add_argument("--trials", nargs="+", choices=("kill", "race"),
                        default=["kill", "race"])
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES,
                        help=f"an admin URL of the PostgreSQL server; a fresh database is "
                             f"made and dropped per trial (${POSTGRES_ENV}, else "
                             f"{DEFAULT_POSTGRES})")
    parser.add_argument("--out", type=Path,
                        default=bench.RESULTS / f"reliability-{datetime.now():%Y-%m-%d}.json",
                        help="the JSON record (bench/results/reliability-<date>.json)")
    args = parser.parse_args(argv)
    args.per_process = -(-args.registrations // args.processes)
    return args


def trial(name: str, kind: str, args: argparse.Namespace, work: Path,
          postgres: Postgres) -> Row:
    print(f"-- {name} on {kind}", file=sys.stderr)
    with store_for(kind, work, postgres) as url:
        if name == "kill":
            return kill_trial(kind, url, work, args.kill_acks, args.writers)
        return race_trial(kind, url, work, Race(args.processes, args.per_process))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    postgres = Postgres(args.postgres)
    problem = postgres.problem() if "postgresql" in args.stores else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="capmock-reliability-") as tmp:
        for name in args.trials:
            for kind in args.stores:
                if kind == "postgresql" and problem:
                    rows.append(Row(name, kind, 0, WORKERS, skipped=problem))
                    continue
                rows.append(trial(name, kind, args, Path(tmp), postgres))
    print(table(rows))
    for row in rows:
        if row.examples:
            print(f"{row.trial} on {row.store}, e.g.: " + "; ".join(row.examples))
    save(args.out, rows, args, environment(postgres, args.stores))
    print(f"\nwrote {args.out}")
    return 0 if all(row.holds for row in rows) else 1


if __name__ == "__main__":
    bench.run(main)

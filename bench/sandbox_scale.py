"""customer/get latency on a sandbox of 1,000,000 customers next to one of 1,000.

The issue's requirement: get by identifier on a sandbox of 1,000,000 customers
within 1.5x of the latency on 1,000 (indexes, not scans). Both stores hold the
document's seed customers plus N customers shaped as customer/add stores them
(mobile 55 + 8 digits, the same scheme as sandbox_throughput.py); the 1M store
is built once into .cache/bench/ (bulk inserts through sqlite3, big
transactions) and reused while it is valid, the 1k one is built in a
temporary directory. Then, on 127.0.0.1:

1. the query plan of every statement one customer/get runs (traced in
   process on the big store): each must be an index SEARCH, not a SCAN;
2. store lookups in process: Tx.customer('mobile', random existing), each in
   its own read transaction, as a request does; the stores take turns;
3. HTTP: both stores served at once by `capmock serve --mode sandbox --workers 2
   --no-access-log`, wrk (-t2 -c8, Lua: a random existing mobile per request)
   on one server at a time, rounds interleaving them (order alternating);
   medians, spread, and the ratio 1M/1k of p50 and p99 against 1.5x.

See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from capmock.mockserver.http import MockRequest
from capmock.mockserver.pipeline import handle
from capmock.mockserver.sandbox import profile
from capmock.mockserver.sandbox.seed import ensure_seeded
from capmock.mockserver.sandbox.service import Sandbox
from capmock.mockserver.sandbox.store import (
    IDENTIFIER_COLUMNS,
    SQLiteStore,
    dumps,
    identifier_key,
    open_store,
)
from capmock.mockserver.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mock_throughput as bench
import sandbox_throughput as sandbox

CACHE = bench.REPO / ".cache" / "bench"
SMALL, LARGE = 1_000, 1_000_000
TARGET_RATIO = 1.5
BATCH = 100_000
BENCH_META = "bench_sandbox_scale"
FORMAT_VERSION = 1  # raise when the customers written by build() change
INSERT = (f"INSERT INTO customers ({', '.join(IDENTIFIER_COLUMNS)}, doc) "
          f"VALUES ({', '.join('?' * (len(IDENTIFIER_COLUMNS) + 1))})")


# --------------------------------------------------------------------------- stores

def spec(customers: int) -> str:
    """What a built store says it holds (meta row BENCH_META)."""
    return json.dumps({"version": FORMAT_VERSION, "customers": customers,
                       "mobiles": f"{sandbox.get_mobile(1)}..{sandbox.get_mobile(customers)}"})


def rows(start: int, stop: int, now: str) -> Iterator[tuple[str | None, ...]]:
    """Customers start..stop-1 as customer/add would store them (store.insert_customer)."""
    for i in range(start, stop):
        doc = profile.new_doc({"mobile": sandbox.get_mobile(i), "email": f"g{i}@bench.example",
                               "firstname": "Bench"}, now)
        yield (*(identifier_key(c, doc.get(c)) for c in IDENTIFIER_COLUMNS), dumps(doc))


def sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def build(path: Path, customers: int) -> float:
    """A store as the server makes it (schema, document seed), then `customers` more in
    transactions of BATCH rows; written under another name and renamed when complete."""
    started = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    for file in sqlite_files(partial):
        file.unlink(missing_ok=True)
    store = open_store(str(partial))
    ensure_seeded(store)
    conn = store.connection()
    conn.execute("PRAGMA synchronous = OFF")  # a cache file: rebuilt if a crash spoils it
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    for start in range(1, customers + 1, BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, rows(start, min(start + BATCH, customers + 1), now))
        conn.execute("COMMIT")
        if customers > BATCH:
            print(f"   {min(start + BATCH - 1, customers):,} / {customers:,} customers",
                  file=sys.stderr)
    with store.transaction(write=True) as tx:
        tx.set_meta(BENCH_META, spec(customers))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()  # the last connection: SQLite checkpoints and removes the -wal
    leftovers = [f.name for f in sqlite_files(partial)[1:] if f.exists()]
    if leftovers:
        raise RuntimeError(f"{partial}: {leftovers} still there after closing")
    partial.replace(path)
    return time.perf_counter() - started


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master "
                            "ORDER BY type, name").fetchall()


def fresh_schema() -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory(prefix="capmock-scale-schema-") as tmp:
        open_store(str(Path(tmp) / "schema.sqlite")).close()
        return schema_of(Path(tmp) / "schema.sqlite")


def invalid(path: Path, customers: int) -> str | None:
    """Why the cached store cannot be reused; None when it can."""
    if not path.exists():
        return "not built yet"
    try:
        if schema_of(path) != fresh_schema():
            return "its schema differs from the store's current SCHEMA"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            meta = conn.execute("SELECT value FROM meta WHERE key = ?", (BENCH_META,)).fetchone()
            if meta is None or meta[0] != spec(customers):
                return f"it says it holds {meta[0] if meta else 'nothing'}, not {spec(customers)}"
            count = conn.execute("SELECT count(*) FROM customers WHERE mobile BETWEEN ? AND ?",
                                 (sandbox.get_mobile(1), sandbox.get_mobile(customers))
                                 ).fetchone()[0]
            if count != customers:
                return f"it holds {count:,} of the {customers:,} customers"
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                return f"PRAGMA quick_check: {check}"
    except sqlite3.Error as error:
        return f"unreadable: {error}"
    return None


def cached_store(customers: int) -> tuple[Path, str]:
    """The store of `customers` under .cache/bench/, built unless a valid one is there."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"sandbox-{customers}.sqlite"
    started = time.perf_counter()
    why = invalid(path, customers)
    if why is None:
        return path, (f"reused {path.relative_to(bench.REPO)} ({path.stat().st_size / 1e6:,.0f}"
                      f" MB; meta, schema, row count and quick_check verified in "
                      f"{time.perf_counter() - started:.1f} s)")
    print(f"-- building {path} ({why}) ...", file=sys.stderr)
    seconds = build(path, customers)
    return path, (f"built {path.relative_to(bench.REPO)} in {seconds:.0f} s "
                  f"({path.stat().st_size / 1e6:,.0f} MB; cached: {why})")


# --------------------------------------------------------------------------- plans

def traced_get(path: Path, mobile: str) -> tuple[int, list[str]]:
    """Every SQL statement one customer/get runs, through the mock's own pipeline."""
    settings = Settings(mode="sandbox", store=str(path))
    box = Sandbox(settings)
    statements: list[str] = []
    conn = box.store.connection()
    conn.set_trace_callback(statements.append)
    answer = handle(MockRequest("GET", sandbox.GET_PATH, f"format=json&mobile={mobile}",
                                {"accept": "application/json"}), settings, box)
    conn.set_trace_callback(None)
    box.store.close()
    return answer.status, statements


def query_plans(path: Path, mobile: str) -> tuple[bool, list[str]]:
    status, statements = traced_get(path, mobile)
    lines, indexed = [f"  customer/get?mobile={mobile} answered {status}"], status == 200
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        for statement in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            lines.append(f"  {statement}")
            for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}"):
                detail = row[-1]
                lines.append(f"    {detail}")
                indexed &= not detail.startswith("SCAN")
    return indexed, lines


# --------------------------------------------------------------------------- in process

@dataclass
class Lookups:
    customers: int
    micros: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.micros)
        return ordered[min(int(len(ordered) * p), len(ordered) - 1)]


def lookups(stores: dict[int, Path], count: int, batch: int = 500,
            seed: int = 0) -> dict[int, Lookups]:
    """Tx.customer('mobile', m) for random existing m, one read transaction each; the
    stores take turns, `batch` lookups at a time, so drift hits both alike."""
    opened = {n: SQLiteStore(str(path)) for n, path in stores.items()}
    found = {n: Lookups(n, []) for n in stores}
    picks = random.Random(seed)
    try:
        for _ in range(0, count, batch):
            for n, store in opened.items():
                for _ in range(batch):
                    mobile = sandbox.get_mobile(picks.randint(1, n))
                    started = time.perf_counter()
                    with store.transaction() as tx:
                        customer = tx.customer("mobile", mobile)
                    found[n].micros.append((time.perf_counter() - started) * 1e6)
                    if customer is None:
                        raise RuntimeError(f"{stores[n]}: no customer with mobile {mobile}")
    finally:
        for store in opened.values():
            store.close()
    return found


# --------------------------------------------------------------------------- HTTP

@dataclass
class Sample:
    customers: int
    live: bench.Live
    runs: list[bench.WrkResult] = field(default_factory=list)
    non_200: int = 0
    first_bad: str = ""

    def median(self, metric: str) -> float:
        return statistics.median(getattr(r, metric) for r in self.runs)

    def spread(self, metric: str, digits: int = 2) -> str:
        values = [getattr(r, metric) for r in self.runs]
        return sandbox.spread(values, digits)


def start(stack: contextlib.ExitStack, stores: dict[int, Path], workers: int, work: Path,
          notes: list[str]) -> dict[int, Sample]:
    samples = {}
    for customers, path in stores.items():
        port = bench.free_port()
        server = sandbox.make_server("sandbox", port, workers, path)
        server = bench.Server(f"sandbox-{customers}", server.command, workers=workers)
        print(f"-- starting {server.name}: {' '.join(server.command)}", file=sys.stderr)
        failed: list[str] = []
        live = stack.enter_context(bench.running(server, port, sandbox.GET_PATH, work, failed))
        notes += [f"{server.name}: a start failed and was retried: {f}" for f in failed]
        samples[customers] = Sample(customers, live)
    return samples


def load(sample: Sample, args: argparse.Namespace, work: Path, seconds: int) -> bench.WrkResult:
    script = work / f"get-{sample.customers}.lua"
    script.write_text(sandbox.lua_script(sandbox.CASES["get-json"], 0, sample.customers),
                      "utf-8")
    try:
        output = bench.run_wrk(sample.live.base + sandbox.GET_PATH, script, args.threads,
                               args.connections, seconds)
        result, counts = bench.parse_wrk(output), sandbox.parse_counts(output)
        sample.live.check()
    except (RuntimeError, ValueError, OSError) as error:
        raise RuntimeError(f"{sample.live.server.name}: {error}\nserver log:\n"
                           f"{sample.live.messages()}") from error
    sample.non_200 += counts.other
    sample.first_bad = sample.first_bad or counts.first_bad
    return result


def measure(samples: dict[int, Sample], args: argparse.Namespace, work: Path) -> None:
    """Rounds alternate the order (small-large, large-small, ...): drift within a
    round does not always fall on the same store."""
    for round_no in range(1, args.rounds + 1):
        order = list(samples.values())
        for sample in order if round_no % 2 else reversed(order):
            if args.warmup > 0:
                load(sample, args, work, args.warmup)
            result = load(sample, args, work, args.duration)
            sample.runs.append(result)
            print(f"   round {round_no} {sample.customers:>9,} customers "
                  f"{result.requests_per_s:>7,.0f} req/s  p50 {result.p50_ms:.2f} ms  "
                  f"p99 {result.p99_ms:.2f} ms", file=sys.stderr)


# --------------------------------------------------------------------------- report

def verdict(holds: bool) -> str:
    return "PASS" if holds else "FAIL"


def lookup_lines(found: dict[int, Lookups]) -> list[str]:
    lines = [f"  {'customers':>10} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8}"]
    for item in found.values():
        lines.append(f"  {item.customers:>10,} {item.percentile(0.5):>8.1f} "
                     f"{item.percentile(0.99):>8.1f} {statistics.fmean(item.micros):>8.1f}")
    small, large = found[min(found)], found[max(found)]
    lines.append(f"  ratio {large.customers:,}/{small.customers:,}: p50 "
                 f"{large.percentile(0.5) / small.percentile(0.5):.2f}x, p99 "
                 f"{large.percentile(0.99) / small.percentile(0.99):.2f}x")
    return lines


def http_lines(samples: dict[int, Sample], args: argparse.Namespace) -> list[str]:
    lines = [f"  {'customers':>10} {'p50 ms':>7} {'(min-max)':>11} {'p99 ms':>7} "
             f"{'(min-max)':>13} {'req/s':>7} {'(min-max)':>13}  non-200"]
    for s in samples.values():
        lines.append(f"  {s.customers:>10,} {s.median('p50_ms'):>7.2f} "
                     f"{s.spread('p50_ms'):>11} {s.median('p99_ms'):>7.2f} "
                     f"{s.spread('p99_ms'):>13} {s.median('requests_per_s'):>7,.0f} "
                     f"{s.spread('requests_per_s', 0):>13}  {s.non_200}"
                     + (f" (first: {s.first_bad[:120]})" if s.first_bad else ""))
    small, large = samples[min(samples)], samples[max(samples)]
    name = f"{large.customers:,}/{small.customers:,}"
    for metric, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
        ratio = large.median(metric) / small.median(metric)
        per_round = ", ".join(f"{a / b:.2f}" for a, b in zip(
            (getattr(r, metric) for r in large.runs), (getattr(r, metric) for r in small.runs),
            strict=True))
        lines.append(f"  {verdict(ratio <= TARGET_RATIO)}  {label} {name} = {ratio:.2f}x "
                     f"(target <= {TARGET_RATIO}x; round by round: {per_round})")
    return lines


def report(stores: dict[int, str], plans: tuple[bool, list[str]], found: dict[int, Lookups],
           samples: dict[int, Sample], args: argparse.Namespace, notes: list[str]) -> str:
    sizes = sorted(stores)
    parts = [f"capmock sandbox at scale: customer/get by mobile, {sizes[0]:,} vs "
             f"{sizes[-1]:,} customers (SQLite)", "stores"]
    parts += [f"  {n:>10,}: {stores[n]}" for n in sizes]
    parts += [f"\nquery plans: every statement of one customer/get on the {sizes[-1]:,} store",
              *plans[1],
              f"  {verdict(plans[0])}  every lookup is an index SEARCH (no SCAN)",
              f"\nstore lookups in process: Tx.customer('mobile', random existing), "
              f"{args.lookups:,} each, one read transaction each, the stores taking turns "
              "(500 at a time)", *lookup_lines(found),
              f"\nHTTP: wrk -t{args.threads} -c{args.connections} -d{args.duration}s after a "
              f"{args.warmup} s warm-up, {args.workers} granian workers per server, a random "
              f"existing mobile per request; median of {args.rounds} round(s), spread min-max",
              *http_lines(samples, args)]
    if notes:
        parts.append("\nnotes\n" + "\n".join(f"  - {note}" for note in notes))
    return "\n".join(parts)


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=bench.positive, default=LARGE,
                        help="customers in the big store (1000000), cached in .cache/bench/")
    parser.add_argument("--small", type=bench.positive, default=SMALL,
                        help="customers in the small store (1000), built in a temp dir")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached big store")
    parser.add_argument("--duration", type=bench.positive, default=5, help="seconds per run (5)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each run (2)")
    parser.add_argument("--rounds", type=bench.positive, default=5, help="rounds (5)")
    parser.add_argument("--connections", type=bench.positive, default=8, help="wrk -c (8)")
    parser.add_argument("--threads", type=bench.positive, default=2, help="wrk -t (2)")
    parser.add_argument("--workers", type=bench.positive, default=2, help="granian workers (2)")
    parser.add_argument("--lookups", type=bench.positive, default=20_000,
                        help="in-process store lookups per store (20000)")
    args = parser.parse_args(argv)
    if args.small >= args.large:
        parser.error("--small must be below --large")
    args.threads = min(args.threads, args.connections)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench.require_wrk()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="capmock-sandbox-scale-") as tmp, \
            contextlib.ExitStack() as stack:
        work = Path(tmp)
        small = work / f"sandbox-{args.small}.sqlite"
        built = build(small, args.small)
        if args.rebuild:
            (CACHE / f"sandbox-{args.large}.sqlite").unlink(missing_ok=True)
        large, how = cached_store(args.large)
        stores = {args.small: small, args.large: large}
        described = {args.small: f"built in {built:.2f} s (temporary)", args.large: how}
        plans = query_plans(large, sandbox.get_mobile(random.randint(1, args.large)))
        found = lookups(stores, args.lookups)
        samples = start(stack, stores, args.workers, work, notes)
        measure(samples, args, work)
    print(report(described, plans, found, samples, args, notes))
    return 0


if __name__ == "__main__":
    bench.run(main)

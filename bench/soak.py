"""Soak: does a `capmock serve` worker's memory stay bounded under long mixed
traffic with large bodies?

For each mode (replay, then sandbox on a fresh SQLite store), one server
(`capmock serve --workers W --no-access-log`) gets --minutes / modes of
traffic from C client threads (urllib3, keep-alive), a fixed mix per seed:

- add-large  POST customer/add, ~1,000,000 bytes of JSON (100 customers of ~10 KB,
             near the 1 MiB body limit; in the sandbox the same 100 customers,
             updated, so the store does not grow by a megabyte a request);
- add        POST customer/add, one customer, a new mobile each (many adds);
- add-xml    the same in XML;
- get        GET customer/get of a customer registered here (replay: the sample);
- too-large  POST customer/add of 1,100,000 bytes (refused: over the limit);
- journal    GET /__capmock/journal every --journal-every seconds (in 2+
             workers, every worker writes out what it holds to the shared file).

Every --interval seconds it reads VmRSS from /proc/<pid>/status of each
granian worker (their PIDs from granian's "Spawning worker-N with PID" lines;
psutil is not a dependency) and reports, per worker, RSS at the start of the
traffic, at its peak and at the end, and the requests sent by kind and HTTP
status. Bounded in time (--minutes) and in count (--max-requests). See
bench/README.md.

    python bench/soak.py                    # 10 minutes: 5 replay, 5 sandbox
    python bench/soak.py --minutes 0.5      # a check that it works
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import urllib3

from capmock.openapi.codec import data_to_xml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mock_throughput as bench

LARGE_BODY = 1_000_000  # bytes; the server's limit is 1 MiB (1,048,576)
TOO_LARGE_BODY = 1_100_000
BATCH = 100  # customers in a large add (the default --batch-limit)
WEIGHTS = {"add-large": 2, "add": 6, "add-xml": 2, "get": 8, "too-large": 1}
SPAWNED = re.compile(rb"Spawning worker-(\d+) with PID: (\d+)")
JSON = "application/json"
XML = "application/xml"


# --------------------------------------------------------------------------- traffic

def large_add(size: int, mobiles: list[str]) -> bytes:
    """A customer/add body of `size` bytes: len(mobiles) customers with one long custom field."""
    def body(filler: int) -> bytes:
        customers = [{"mobile": m, "firstname": "Soak", "custom_fields": {"field": [
            {"name": "notes", "value": "n" * filler}]}} for m in mobiles]
        return json.dumps({"root": {"customer": customers}}).encode()

    overhead = len(body(0))
    filler = max((size - overhead) // len(mobiles), 0)
    data = body(filler)
    return data + b" " * (size - len(data))  # JSON allows trailing whitespace


def small_add(mobile: str) -> dict[str, Any]:
    return {"root": {"customer": [{"mobile": mobile, "firstname": "Soak",
                                   "email": f"{mobile}@soak.example"}]}}


@dataclass
class Tally:
    """Requests sent, by kind and HTTP status (0: no answer), shared by the threads."""

    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    total: int = 0

    def add(self, kind: str, status: int) -> None:
        with self.lock:
            self.counts[(kind, status)] += 1
            self.total += 1

    def by_kind(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (kind, status), n in sorted(self.counts.items()):
            out.setdefault(kind, {})[str(status)] = n
        return out


class Traffic:
    """The client threads of one mode: each picks the next request from the mix."""

    def __init__(self, base: str, mode: str, connections: int, seed: int) -> None:
        self.base, self.mode, self.seed = base, mode, seed
        self.pool = urllib3.PoolManager(maxsize=connections, retries=False,
                                        timeout=urllib3.Timeout(connect=5, read=60))
        prefix = "9198"  # 12-digit mobiles: 9198 + 8 digits
        self.large = large_add(LARGE_BODY, [f"{prefix}0{n:07d}" for n in range(BATCH)])
        self.too_large = b" " * (TOO_LARGE_BODY - 2) + b"{}"
        self.counter = iter(range(10**7))
        self.counter_lock = threading.Lock()
        self.registered = ["19889999999"]  # the document's sample customer
        self.tally = Tally()

    def next_mobile(self) -> str:
        with self.counter_lock:
            return f"9197{self.seed % 10}{next(self.counter):07d}"

    def request(self, kind: str, rng: random.Random) -> int:
        url = self.base + "/v1.1/customer/"
        if kind == "get":
            mobile = rng.choice(self.registered)
            return self.send("GET", f"{url}get?mobile={mobile}", None, None)
        if kind == "add-large":
            return self.send("POST", url + "add?format=json", self.large, JSON)
        if kind == "too-large":
            return self.send("POST", url + "add?format=json", self.too_large, JSON)
        mobile = self.next_mobile()
        if kind == "add-xml":
            status = self.send("POST", url + "add?format=xml",
                               data_to_xml(small_add(mobile)), XML)
        else:
            status = self.send("POST", url + "add?format=json",
                               json.dumps(small_add(mobile)).encode(), JSON)
        if status == 200 and len(self.registered) < 10_000:
            self.registered.append(mobile)
        return status

    def send(self, method: str, url: str, body: bytes | None, media: str | None) -> int:
        headers = {"Accept": JSON, **({"Content-Type": media} if media else {})}
        try:
            answer = self.pool.request(method, url, body=body, headers=headers,
                                       preload_content=True)
        except urllib3.exceptions.HTTPError:
            return 0
        return answer.status

    def journal(self) -> dict[str, Any]:
        answer = self.pool.request("GET", self.base + "/__capmock/journal")
        data = json.loads(answer.data)
        return {"status": answer.status, "entries": len(data.get("entries", [])),
                "dropped": data.get("dropped"), "bytes": len(answer.data)}

    def run(self, thread: int, deadline: float, max_requests: int) -> None:
        rng = random.Random(self.seed * 1000 + thread)
        kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < deadline and self.tally.total < max_requests:
            kind = rng.choices(kinds, weights)[0]
            self.tally.add(kind, self.request(kind, rng))


# --------------------------------------------------------------------------- memory

def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def workers_of(live: bench.Live) -> dict[str, int]:
    """worker name -> PID, from granian's log (a respawned worker appears again)."""
    return {f"worker-{n.decode()}": int(pid) for n, pid in SPAWNED.findall(live.log.read_bytes())}


@dataclass
class Memory:
    """RSS samples per worker PID: (seconds since the start of traffic, KiB)."""

    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def sample(self, live: bench.Live, started: float) -> None:
        for name, pid in workers_of(live).items():
            kib = rss_kib(pid)
            if kib is not None:
                self.samples.setdefault(f"{name} pid {pid}", []).append(
                    (round(time.monotonic() - started, 1), kib))

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for worker, points in self.samples.items():
            values = [kib for _, kib in points]
            out[worker] = {"start_mib": values[0] / 1024, "peak_mib": max(values) / 1024,
                           "end_mib": values[-1] / 1024, "samples": len(values)}
        return out


# --------------------------------------------------------------------------- one mode

@dataclass
class Plan:
    seconds: float
    workers: int
    connections: int
    interval: float
    journal_every: float
    max_requests: int
    seed: int


def server_command(mode: str, port: int, workers: int, work: Path) -> list[str]:
    command = [*bench.capmock_command(), "serve", "--host", bench.HOST, "--port", str(port),
               "--workers", str(workers), "--no-access-log", "--mode", mode]
    if mode == "sandbox":
        command += ["--store", str(work / "sandbox.sqlite")]
    return command


def soak(mode: str, plan: Plan, work: Path) -> dict[str, Any]:
    """Run one mode's traffic against a fresh server; its report."""
    port = bench.free_port()
    server = bench.Server(f"capmock {mode}", server_command(mode, port, plan.workers, work),
                          workers=plan.workers)
    live = bench.launch(server, port, work / f"{mode}.log")
    try:
        bench.wait_until_up(live, "/__capmock/health")
        traffic = Traffic(live.base, mode, plan.connections, plan.seed)
        memory = Memory()
        started = time.monotonic()
        deadline = started + plan.seconds
        memory.sample(live, started)
        threads = [threading.Thread(target=traffic.run, daemon=True,
                                    args=(n, deadline, plan.max_requests))
                   for n in range(plan.connections)]
        for thread in threads:
            thread.start()
        journals = watch(live, traffic, memory, plan, started, threads)
        for thread in threads:
            thread.join(90)  # a large add in flight finishes
        memory.sample(live, started)
        live.check()
        elapsed = time.monotonic() - started
        return {"mode": mode, "seconds": round(elapsed, 1), "requests": traffic.tally.total,
                "requests_by_kind": traffic.tally.by_kind(), "memory": memory.summary(),
                "journal_reads": journals, "samples": memory.samples}
    finally:
        bench.stop(live.process)


def watch(live: bench.Live, traffic: Traffic, memory: Memory, plan: Plan, started: float,
          threads: list[threading.Thread]) -> list[dict[str, Any]]:
    """Sample RSS every interval and read the journal every journal_every, while
    the traffic runs; the journal reads."""
    journals = []
    next_journal = started + plan.journal_every
    while any(t.is_alive() for t in threads):
        time.sleep(min(plan.interval, max(next_journal - time.monotonic(), 0.05)))
        memory.sample(live, started)
        live.check()
        if time.monotonic() >= next_journal:
            journals.append({"at_s": round(time.monotonic() - started, 1), **traffic.journal()})
            next_journal += plan.journal_every
    journals.append({"at_s": round(time.monotonic() - started, 1), **traffic.journal()})
    return journals


# --------------------------------------------------------------------------- report

def print_report(result: dict[str, Any]) -> None:
    print(f"\n{result['mode']}: {result['requests']:,} requests in {result['seconds']} s")
    for kind, statuses in result["requests_by_kind"].items():
        seen = ", ".join(f"{status} x {n:,}" for status, n in statuses.items())
        print(f"  {kind:<10} {seen}")
    last = result["journal_reads"][-1]
    print(f"  journal at the end: {last['entries']} entries, {last['dropped']} dropped, "
          f"{last['bytes']:,} bytes of JSON ({len(result['journal_reads'])} reads)")
    print(f"  {'worker':<22} {'start MiB':>10} {'peak MiB':>10} {'end MiB':>10}")
    for worker, m in result["memory"].items():
        print(f"  {worker:<22} {m['start_mib']:>10.1f} {m['peak_mib']:>10.1f} "
              f"{m['end_mib']:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="the whole soak, split equally between the modes (10)")
    parser.add_argument("--modes", nargs="+", choices=["replay", "sandbox"],
                        default=["replay", "sandbox"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4, help="client threads (4)")
    parser.add_argument("--interval", type=float, default=2.0, help="RSS sampling, seconds")
    parser.add_argument("--journal-every", type=float, default=15.0,
                        help="seconds between reads of /__capmock/journal (15)")
    parser.add_argument("--max-requests", type=int, default=2_000_000,
                        help="stop a mode after this many requests (2,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results (with every sample)")
    args = parser.parse_args()
    if args.minutes <= 0 or args.workers < 1 or args.connections < 1 or args.interval <= 0:
        parser.error("--minutes, --workers, --connections and --interval must be positive")
    plan = Plan(args.minutes * 60 / len(args.modes), args.workers, args.connections,
                args.interval, args.journal_every, args.max_requests, args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="capmock-soak-") as tmp:
        for mode in args.modes:
            results.append(soak(mode, plan, Path(tmp)))
            print_report(results[-1])
    if args.json:
        args.json.write_text(json.dumps({"plan": asdict(plan), "results": results}, indent=1))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

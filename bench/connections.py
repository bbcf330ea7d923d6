"""Is every connection served? `capmock serve` under many keep-alive clients
and under slowloris, next to bare Flask on the same granian launch.

Two cases, in one run on one machine, on 127.0.0.1, every server started once
and idle while the others are measured, rounds alternating which goes first:

- keepalive  C connections (256), all opened before the clock starts, each
             sending GET customer/get back to back for D seconds. Per
             connection: was it answered at all, its time to first answer,
             its longest gap without one (to the end of the run, for a
             connection left waiting); overall: answers/s, p50 and p99 (a
             request still unanswered at the end counts with its wait so far).
             wrk cannot say this: it only times the connections it was served
             on (issue 12: 4 of 64 were).
- slowloris  M connections (200) dribbling request headers, one byte a second
             each, never finishing (reconnecting when the server cuts one
             off), while a probe client sends K (20) ordinary requests, each
             on a new connection, spread over the run: how many were answered
             within the probe time-out, and how fast.

The client is Python (asyncio, in --client-processes processes), so its own
CPU bounds the answers/s it can see; its CPU time is printed beside the
figures, and capmock/bare Flask is the figure to compare. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mock_throughput as bench

HOST = bench.HOST
SERVERS = ("bare-flask", "capmock")
CASE = "get-json"  # the request of the keepalive case and of the probes
MAX_CONNECTIONS = 4096  # the client's own bound
MAX_SECONDS = 600
SLOW_HEAD = b"GET /v1.1/customer/get?mobile=19889999999 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
SLOW_LINE = b"X-Slow: a\r\n"  # repeated, one byte at a time: the head never ends


# --------------------------------------------------------------------------- keep-alive client

def request_bytes(case: bench.Case) -> bytes:
    lines = [f"{case.method} {case.target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in case.headers.items()]
    if case.body:
        lines.append(f"Content-Length: {len(case.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + case.body


@dataclass
class Conn:
    """What one keep-alive connection saw: answer times (from the start), and
    the send time of the request it was waiting for at the end, if any."""

    answers: list[float] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    waiting_since: float | None = None
    bad_status: int = 0
    error: str = ""


class KeepAlive(asyncio.Protocol):
    """One connection sending `request` again as soon as each answer is whole."""

    def __init__(self, request: bytes, start: float, end: float, conn: Conn,
                 done: asyncio.Future[None]) -> None:
        self.request, self.start, self.end, self.conn, self.done = request, start, end, conn, done
        self.buffer = b""
        self.need: int | None = None  # bytes of the whole answer, once its head is in
        self.sent = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        if time.monotonic() >= self.end:
            self.finish()
            return
        self.sent = time.monotonic()
        self.conn.waiting_since = self.sent - self.start
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need is None:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buffer[:head_end].split(b"\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head[1:]
                               if line.lower().startswith(b"content-length:")), 0)
                self.need = head_end + 4 + length
                if b" 200 " not in head[0] + b" ":
                    self.conn.bad_status += 1
            if len(self.buffer) < self.need:
                return
            self.buffer, self.need = self.buffer[self.need:], None
            now = time.monotonic()
            if now > self.end:  # freed by other connections closing at the end: not served
                self.finish()
                return
            self.conn.answers.append(now - self.start)
            self.conn.latencies_ms.append((now - self.sent) * 1000)
            self.conn.waiting_since = None
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if time.monotonic() < self.end:
                self.conn.error = f"closed by the server ({exc or 'EOF'})"
            self.done.set_result(None)

    def finish(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if not self.done.done():
            self.done.set_result(None)


async def keep_alive_share(port: int, connections: int, request: bytes, start: float,
                           seconds: float) -> list[Conn]:
    """This process's share of the connections: open all, wait for `start`,
    then run until start + seconds."""
    loop = asyncio.get_running_loop()
    conns = [Conn() for _ in range(connections)]
    done = [loop.create_future() for _ in conns]
    end = start + seconds
    protocols = []
    for conn, future in zip(conns, done, strict=True):
        _, protocol = await loop.create_connection(
            lambda c=conn, f=future: KeepAlive(request, start, end, c, f), HOST, port)
        protocols.append(protocol)
    await asyncio.sleep(max(start - time.monotonic(), 0))
    for protocol in protocols:
        protocol.send()
    await asyncio.wait(done, timeout=max(end - time.monotonic(), 0) + 0.05)
    for protocol in protocols:
        protocol.finish()  # a connection still waiting for its answer stops waiting here
    return conns


def keep_alive_child(port: int, connections: int, request: bytes, start: float,
                     seconds: float, out: Any) -> None:
    conns = asyncio.run(keep_alive_share(port, connections, request, start, seconds))
    out.send([asdict(c) for c in conns])
    out.close()


def cpu_seconds() -> float:
    times = os.times()
    return times.children_user + times.children_system


@dataclass
class KeepAliveResult:
    connections: int
    served: int
    first_answer_max_s: float | None  # None: some connection never answered
    longest_gap_s: float
    answers_per_s: float
    p50_ms: float
    p99_ms: float
    bad_status: int
    errors: int
    client_cpu_s: float


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)] if ordered else 0.0


def summarise(conns: list[Conn], seconds: float, cpu: float) -> KeepAliveResult:
    latencies = [ms for c in conns for ms in c.latencies_ms]
    latencies += [(seconds - c.waiting_since) * 1000 for c in conns
                  if c.waiting_since is not None]  # unanswered at the end: censored waits
    gaps = [max(b - a for a, b in zip([0.0, *c.answers], [*c.answers, seconds], strict=True))
            for c in conns]
    served = [c for c in conns if c.answers]
    return KeepAliveResult(
        connections=len(conns), served=len(served),
        first_answer_max_s=(max(c.answers[0] for c in served)
                            if len(served) == len(conns) else None),
        longest_gap_s=max(gaps), answers_per_s=sum(len(c.answers) for c in conns) / seconds,
        p50_ms=percentile(latencies, 0.50), p99_ms=percentile(latencies, 0.99),
        bad_status=sum(c.bad_status for c in conns), errors=sum(bool(c.error) for c in conns),
        client_cpu_s=cpu)


def run_keep_alive(port: int, connections: int, seconds: float, processes: int,
                   request: bytes) -> KeepAliveResult:
    """The connections split over `processes` client processes, all opened
    before a common start (CLOCK_MONOTONIC is one clock for all processes)."""
    shares = [connections // processes + (i < connections % processes)
              for i in range(processes)]
    start = time.monotonic() + 1.0 + connections / 2000  # time to open them all
    context = multiprocessing.get_context("fork")
    cpu_before = cpu_seconds()
    pipes, children = [], []
    for share in filter(None, shares):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=keep_alive_child,
                                args=(port, share, request, start, seconds, send))
        child.start()
        send.close()
        pipes.append(receive)
        children.append(child)
    conns = []
    for receive in pipes:
        if not receive.poll(start - time.monotonic() + seconds + 30):
            raise RuntimeError("a keep-alive client process did not report")
        conns += [Conn(**c) for c in receive.recv()]
    for child in children:
        child.join(10)
    return summarise(conns, seconds, cpu_seconds() - cpu_before)


# --------------------------------------------------------------------------- slowloris

@dataclass
class SlowlorisResult:
    slow_connections: int
    probes: int
    answered: int
    worst_ms: float | None  # None: none answered
    p50_ms: float | None
    probe_timeout_s: float
    cut: int  # slow connections the server closed
    cut_after_median_s: float | None  # how long each had dribbled when it was cut
    opened: int  # slow connections opened in all (reconnections included)


async def dribble_one(port: int, end: float, interval: float, cuts: list[float],
                      opened: list[int]) -> None:
    """One slowloris connection, reopened whenever the server closes it."""
    while time.monotonic() < end:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(interval)
            continue
        opened[0] += 1
        since = time.monotonic()
        payload = SLOW_HEAD
        position = 0
        try:
            while time.monotonic() < end:
                writer.write(payload[position:position + 1])
                await writer.drain()
                position += 1
                if position == len(payload):
                    payload, position = SLOW_LINE, 0
                try:  # the server's close shows as EOF on the read side
                    if await asyncio.wait_for(reader.read(1), interval) == b"":
                        raise ConnectionResetError
                except TimeoutError:
                    pass
        except (ConnectionError, OSError):
            cuts.append(time.monotonic() - since)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def dribble_all(port: int, connections: int, seconds: float, interval: float) -> dict:
    end = time.monotonic() + seconds
    cuts: list[float] = []
    opened = [0]
    await asyncio.gather(*(dribble_one(port, end, interval, cuts, opened)
                           for _ in range(connections)))
    return {"cuts": cuts, "opened": opened[0]}


def slowloris_child(port: int, connections: int, seconds: float, interval: float,
                    out: Any) -> None:
    out.send(asyncio.run(dribble_all(port, connections, seconds, interval)))
    out.close()


def probe_once(port: int, request: bytes, timeout: float) -> float | None:
    """Milliseconds to a whole answer on a new connection; None past the time-out."""
    started = time.monotonic()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return None
                data += chunk
            return (time.monotonic() - started) * 1000
    except OSError:
        return None


def run_slowloris(port: int, connections: int, seconds: float, interval: float, probes: int,
                  probe_timeout: float, request: bytes) -> SlowlorisResult:
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=slowloris_child,
                            args=(port, connections, seconds, interval, send))
    child.start()
    send.close()
    settle = min(2.0, seconds / 4)  # the slow connections are open before the first probe
    spacing = max(seconds - settle - probe_timeout, 0) / max(probes - 1, 1)
    latencies: list[float | None] = [None] * probes
    begin = time.monotonic()

    def probe(index: int) -> None:
        latencies[index] = probe_once(port, request, probe_timeout)

    # each probe on its own schedule, in its own thread: one left waiting does
    # not push the next past the end of the slowloris (every probe ends in it)
    threads = []
    for index in range(probes):
        time.sleep(max(begin + settle + index * spacing - time.monotonic(), 0))
        threads.append(threading.Thread(target=probe, args=(index,)))
        threads[-1].start()
    for thread in threads:
        thread.join(probe_timeout + 5)
    if not receive.poll(seconds + 30):
        raise RuntimeError("the slowloris process did not report")
    report = receive.recv()
    child.join(10)
    answered = [ms for ms in latencies if ms is not None]
    return SlowlorisResult(
        slow_connections=connections, probes=probes, answered=len(answered),
        worst_ms=max(answered) if answered else None,
        p50_ms=statistics.median(answered) if answered else None,
        probe_timeout_s=probe_timeout, cut=len(report["cuts"]),
        cut_after_median_s=statistics.median(report["cuts"]) if report["cuts"] else None,
        opened=report["opened"])


# --------------------------------------------------------------------------- run

@dataclass
class Plan:
    connections: int
    seconds: float
    warmup: float
    processes: int
    slow_connections: int
    slow_seconds: float
    interval: float
    probes: int
    probe_timeout: float
    workers: int
    rounds: int
    cases: list[str]
    idle_timeout: float | None  # passed to both servers; None: their default (30 s)


def start_servers(stack: contextlib.ExitStack, plan: Plan, work: Path) -> list[bench.Live]:
    case = bench.all_cases()[CASE]
    files = bench.write_inputs(bench.Plan(cases=[case], expected={CASE: bench.expected_answer(
        case)}, threads=1, connections=1, duration=1, warmup=0, workers=plan.workers,
        rounds=1), work)
    lives = []
    for name in SERVERS:
        port = bench.free_port()
        made = bench.make_server(name, port, plan.workers, files, None)
        assert made is not None
        extra = ["--idle-timeout", f"{plan.idle_timeout:g}"] if plan.idle_timeout else []
        server = bench.Server(made.name, [*made.command, *extra], made.headers, made.workers)
        print(f"-- starting {name}: {' '.join(server.command)}", file=sys.stderr)
        failed: list[str] = []
        lives.append(stack.enter_context(bench.running(server, port, case.path, work, failed)))
    return lives


def port_of(live: bench.Live) -> int:
    return int(live.base.rsplit(":", 1)[1])


def measure(lives: list[bench.Live], plan: Plan) -> dict[str, dict[str, list[Any]]]:
    request = request_bytes(bench.all_cases()[CASE])
    results: dict[str, dict[str, list[Any]]] = {case: {live.server.name: [] for live in lives}
                                                for case in plan.cases}
    for round_no in range(1, plan.rounds + 1):
        shift = (round_no - 1) % len(lives)
        for live in lives[shift:] + lives[:shift]:
            name = live.server.name
            if "keepalive" in plan.cases:
                if plan.warmup > 0:
                    run_keep_alive(port_of(live), plan.connections, plan.warmup,
                                   plan.processes, request)
                result = run_keep_alive(port_of(live), plan.connections, plan.seconds,
                                        plan.processes, request)
                live.check()
                results["keepalive"][name].append(result)
                print(f"   round {round_no} keepalive {name:10} {result.served}/"
                      f"{result.connections} served, {result.answers_per_s:,.0f}/s",
                      file=sys.stderr)
            if "slowloris" in plan.cases:
                result = run_slowloris(port_of(live), plan.slow_connections, plan.slow_seconds,
                                       plan.interval, plan.probes, plan.probe_timeout, request)
                live.check()
                results["slowloris"][name].append(result)
                print(f"   round {round_no} slowloris {name:10} {result.answered}/"
                      f"{result.probes} probes answered", file=sys.stderr)
    return results


# --------------------------------------------------------------------------- report

def seconds_cell(value: float | None, bound: float) -> str:
    return f"never (>{bound:g} s)" if value is None else f"{value:.2f} s"


def ms_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def median_of(runs: list[Any], name: str) -> float | None:
    values = [getattr(r, name) for r in runs]
    return None if any(v is None for v in values) else statistics.median(values)


def keep_alive_table(plan: Plan, rows: dict[str, list[KeepAliveResult]]) -> list[str]:
    lines = [f"\nkeepalive: {plan.connections} keep-alive connections, GET customer/get "
             f"JSON back to back, {plan.seconds:g} s (after {plan.warmup:g} s warm-up), "
             f"{plan.processes} client processes",
             f"  {'server':<11} {'served':>9} {'1st answer, worst':>18} {'longest gap':>12} "
             f"{'answers/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-200':>8} {'closed':>7} "
             f"{'client cpu':>10}"]
    for name, runs in rows.items():
        served = min(r.served for r in runs)
        lines.append(
            f"  {name:<11} {f'{served}/{plan.connections}':>9} "
            f"{seconds_cell(median_of(runs, 'first_answer_max_s'), plan.seconds):>18} "
            f"{median_of(runs, 'longest_gap_s'):>10.2f} s "
            f"{median_of(runs, 'answers_per_s'):>10,.0f} {ms_cell(median_of(runs, 'p50_ms')):>8} "
            f"{ms_cell(median_of(runs, 'p99_ms')):>8} {sum(r.bad_status for r in runs):>8} "
            f"{sum(r.errors for r in runs):>7} {median_of(runs, 'client_cpu_s'):>8.1f} s")
    if set(rows) == set(SERVERS):
        paired = [c.answers_per_s / b.answers_per_s
                  for c, b in zip(rows["capmock"], rows["bare-flask"], strict=True)]
        spread = f" ({min(paired):.0%}-{max(paired):.0%})" if len(paired) > 1 else ""
        lines.append(f"  capmock/bare answers/s: {statistics.median(paired):.0%}{spread} "
                     "(median of the rounds' paired ratios)")
    return lines


def slowloris_table(plan: Plan, rows: dict[str, list[SlowlorisResult]]) -> list[str]:
    lines = [f"\nslowloris: {plan.slow_connections} connections dribbling headers (1 byte "
             f"each {plan.interval:g} s, reconnecting when cut), {plan.probes} probe requests "
             f"on new connections over {plan.slow_seconds:g} s, probe time-out "
             f"{plan.probe_timeout:g} s",
             f"  {'server':<11} {'answered':>9} {'worst ms':>9} {'p50 ms':>8} "
             f"{'slow ones cut':>14} {'cut after (median)':>19} {'opened':>7}"]
    for name, runs in rows.items():
        answered = min(r.answered for r in runs)
        cut_after = median_of(runs, "cut_after_median_s")
        lines.append(
            f"  {name:<11} {f'{answered}/{plan.probes}':>9} "
            f"{ms_cell(median_of(runs, 'worst_ms')):>9} {ms_cell(median_of(runs, 'p50_ms')):>8} "
            f"{statistics.median(r.cut for r in runs):>14g} "
            f"{'-' if cut_after is None else f'{cut_after:.1f} s':>19} "
            f"{statistics.median(r.opened for r in runs):>7g}")
    return lines


def report(plan: Plan, results: dict[str, dict[str, list[Any]]]) -> str:
    timeout = f"--idle-timeout {plan.idle_timeout:g}" if plan.idle_timeout else "default time-out"
    header = (f"connections: {plan.workers} granian workers, {timeout}, {os.cpu_count()} CPUs, "
              "loopback"
              + (f"; median of {plan.rounds} rounds (served, answered: the lowest round)"
                 if plan.rounds > 1 else ""))
    parts = [header]
    if "keepalive" in results:
        parts += keep_alive_table(plan, results["keepalive"])
    if "slowloris" in results:
        parts += slowloris_table(plan, results["slowloris"])
    return "\n".join(parts)


def save(path: Path, plan: Plan, results: dict[str, dict[str, list[Any]]]) -> None:
    document = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": bench.environment(), "parameters": asdict(plan),
        "results": {case: {name: [asdict(r) for r in runs] for name, runs in rows.items()}
                    for case, rows in results.items()},
    }
    path.write_text(json.dumps(document, indent=2) + "\n", "utf-8")


# --------------------------------------------------------------------------- main

def bounded(limit: float, kind: type = int) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if not 0 < value <= limit:
            raise argparse.ArgumentTypeError(f"expected a number in (0, {limit:g}], got {text}")
        return value
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", choices=["keepalive", "slowloris"],
                        default=["keepalive", "slowloris"])
    parser.add_argument("--connections", type=bounded(MAX_CONNECTIONS), default=256,
                        help="keep-alive connections (256)")
    parser.add_argument("--duration", type=bounded(MAX_SECONDS, float), default=10,
                        help="seconds of the keepalive case (10)")
    parser.add_argument("--warmup", type=float, default=2, help="keepalive warm-up s (2)")
    parser.add_argument("--client-processes", type=bounded(16), default=2,
                        help="processes of the keep-alive client (2)")
    parser.add_argument("--slow-connections", type=bounded(MAX_CONNECTIONS), default=200,
                        help="slowloris connections (200)")
    parser.add_argument("--slow-duration", type=bounded(MAX_SECONDS, float), default=45,
                        help="seconds of the slowloris case (45: past the 30 s time-out)")
    parser.add_argument("--interval", type=bounded(60, float), default=1.0,
                        help="seconds between two bytes of one slow connection (1)")
    parser.add_argument("--probes", type=bounded(1000), default=20, help="probe requests (20)")
    parser.add_argument("--probe-timeout", type=bounded(60, float), default=10,
                        help="seconds a probe waits for its answer (10)")
    parser.add_argument("--workers", type=bounded(64), default=2, help="granian workers (2)")
    parser.add_argument("--rounds", type=bounded(20), default=1, help="rounds (1)")
    parser.add_argument("--idle-timeout", type=bounded(3600, float),
                        help="--idle-timeout of both servers (their default, 30)")
    parser.add_argument("--quick", action="store_true",
                        help="3 s keepalive, 1 s warm-up, 12 s slowloris with 5 probes")
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.slow_duration, args.probes = 3, 1, 12, 5
        args.probe_timeout = min(args.probe_timeout, 5)
    if args.probe_timeout >= args.slow_duration:
        parser.error("--probe-timeout must be shorter than --slow-duration")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(connections=args.connections, seconds=args.duration, warmup=args.warmup,
                processes=min(args.client_processes, args.connections),
                slow_connections=args.slow_connections, slow_seconds=args.slow_duration,
                interval=args.interval, probes=args.probes, probe_timeout=args.probe_timeout,
                workers=args.workers, rounds=args.rounds, cases=args.cases,
                idle_timeout=args.idle_timeout)
    with tempfile.TemporaryDirectory(prefix="capmock-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        lives = start_servers(stack, plan, Path(tmp))
        results = measure(lives, plan)
    print(report(plan, results))
    if args.json:
        save(args.json, plan, results)
        print(f"\nsaved {args.json}")
    return 0


if __name__ == "__main__":
    bench.run(main)

"""Replay throughput and latency of `capmock serve`, next to Prism and a bare Flask app.

Same machine, same run, same requests, on 127.0.0.1: every server is started
(and stays idle) for the whole run, and wrk (keep-alive, --latency) loads one
server at a time, case after case, the servers back to back:

- prism        Stoplight Prism 5 mocking the packaged OpenAPI document;
- bare-flask   bench/bare_flask.py: Flask on granian answering the bytes capmock
               answers, precomputed (the floor for any Flask app on this server);
- capmock      `capmock serve --no-access-log`;
- capmock+log  `capmock serve` with its default access log;
- baseline     `capmock serve --no-access-log` of another install (--baseline
               PATH: a previous release's `capmock`), for a paired A/B.

Every server/case pair is checked with one urllib request first (status,
Content-Type, body) and the result is reported next to the numbers. Targets:
capmock >= 2x Prism and >= 80% of bare Flask on every case, p99 < 10 ms at
32 connections. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.message import Message
from importlib import metadata
from pathlib import Path
from typing import Any

from capmock import fixtures
from capmock.mockserver.http import MockRequest
from capmock.mockserver.pipeline import handle
from capmock.mockserver.settings import Settings
from capmock.openapi import contract

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
PRISM_DIR = REPO / ".cache" / "prism"
PRISM = PRISM_DIR / "node_modules" / ".bin" / "prism"
PRISM_PACKAGE = "@stoplight/prism-cli@5"
PRISM_AUTH = "Basic dGlsbDE6MjAyY2I5NjJhYzU5MDc1Yjk2NGIwNzE1MmQyMzRiNzA="  # till1:md5("123")
WRK = "wrk"
HOST = "127.0.0.1"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS = 3
SERVERS = ("prism", "bare-flask", "capmock", "capmock+log", "baseline")
TARGET_PRISM_RATIO = 2.0
TARGET_BARE_SHARE = 0.8
TARGET_BASELINE_SHARE = 0.95  # "not slower than the previous release by more than 5 %"
TARGET_P99_MS = 10.0
TARGET_CONNECTIONS = 32
JSON_MEDIA = "application/json"
XML_MEDIA = "application/xml"


# --------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    """One request, sent identically to every server."""

    name: str
    title: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True)
class Expected:
    """What capmock answers for a case (computed in-process by its pipeline)."""

    status: int
    content_type: str
    body: bytes


def request_body(operation: str, fmt: str) -> bytes:
    sample = fixtures.find(operation, "default", "request", fmt)
    if sample is None:
        raise SystemExit(f"no documented {fmt} request body for {operation}")
    return sample.read_bytes()


def all_cases() -> dict[str, Case]:
    get_path, add_path, mobile = "/v1.1/customer/get", "/v1.1/customer/add", "mobile=19889999999"
    cases = [
        Case("get-json", "GET customer/get, JSON", "GET", get_path, mobile,
             {"Accept": JSON_MEDIA}),
        Case("get-xml", "GET customer/get, XML (format=xml)", "GET", get_path,
             f"{mobile}&format=xml", {"Accept": XML_MEDIA}),
        Case("add-json", "POST customer/add, JSON body", "POST", add_path, "format=json",
             {"Accept": JSON_MEDIA, "Content-Type": JSON_MEDIA},
             request_body("customer_add", "json")),
        Case("add-xml", "POST customer/add, XML body (format=xml)", "POST", add_path,
             "format=xml", {"Accept": XML_MEDIA, "Content-Type": XML_MEDIA},
             request_body("customer_add", "xml")),
    ]
    return {case.name: case for case in cases}


def expected_answer(case: Case) -> Expected:
    mock_request = MockRequest(case.method, case.path, case.query,
                               {k.lower(): v for k, v in case.headers.items()}, case.body)
    answer = handle(mock_request, Settings())
    return Expected(answer.status, answer.content_type, answer.body)


# --------------------------------------------------------------------------- tools

def require_wrk() -> str:
    path = shutil.which(WRK)
    if path is None:
        raise SystemExit("wrk is not installed; install it with: apt-get install -y wrk")
    return path


def tool_version(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (result.stdout or result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def ensure_prism() -> Path | None:
    """Prism from .cache/prism, installed with npm on first use; None without npm."""
    if PRISM.exists():
        return PRISM
    if shutil.which("npm") is None:
        print("npm is not installed: skipping Prism (apt-get install -y npm)", file=sys.stderr)
        return None
    print(f"installing {PRISM_PACKAGE} into {PRISM_DIR} ...", file=sys.stderr)
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PRISM_DIR),
                    PRISM_PACKAGE], check=True, timeout=600)
    return PRISM


def capmock_command() -> list[str]:
    script = Path(sys.executable).with_name("capmock")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from capmock.openapi.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- servers

@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    headers: dict[str, str] = field(default_factory=dict)  # added to every request
    workers: int = 0  # granian workers to see started before measuring (0: not granian)


def make_server(name: str, port: int, workers: int, files: dict[str, Path],
                prism: Path | None, baseline: Path | None = None) -> Server | None:
    """The command line of one server on port; None for Prism or the baseline when
    it is unavailable."""
    serve = ["serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    if name == "baseline":
        if baseline is None:
            return None
        return Server(name, [str(baseline), *serve, "--no-access-log"], workers=workers)
    capmock = [*capmock_command(), *serve]
    if name == "prism":
        if prism is None:
            return None
        return Server(name, [str(prism), "mock", "-h", HOST, "-p", str(port), "-v", "error",
                             str(files["spec"])], {"Authorization": PRISM_AUTH})
    if name == "bare-flask":
        return Server(name, [sys.executable, str(BENCH / "bare_flask.py"), "--responses",
                             str(files["table"]), "--host", HOST, "--port", str(port),
                             "--workers", str(workers)], workers=workers)
    log_flag = "--access-log" if name == "capmock+log" else "--no-access-log"
    return Server(name, [*capmock, log_flag], workers=workers)


class ServerDied(RuntimeError):
    """The server (or one of its granian workers) exited."""


WORKER_EXIT = b"Unexpected exit from worker"
WORKER_STARTED = b"Started worker-"
ACCESS_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d ")
EXCEPTION = re.compile(r"^[\w.]+(Error|Exception|Interrupt|Exit): ")


@dataclass
class Live:
    """A started server: its process, log, and how far the log has been checked."""

    server: Server
    process: subprocess.Popen[bytes]
    log: Path
    base: str
    checked: int = 0

    def messages(self, lines: int = 25) -> str:
        """The last lines of the server's own messages (access-log lines left out)."""
        text = self.log.read_text("utf-8", "replace") if self.log.exists() else ""
        kept = [line for line in text.splitlines() if not ACCESS_LINE.match(line)]
        return "\n".join(kept[-lines:])

    def cause(self) -> str:
        """The last exception a worker printed, if any ("sqlite3.OperationalError: ...")."""
        errors = [line for line in self.messages(200).splitlines() if EXCEPTION.match(line)]
        return errors[-1] if errors else "no exception in its log"

    def check(self) -> None:
        """Raise ServerDied if the server exited or granian reported a dead worker."""
        if self.process.poll() is not None:
            raise ServerDied(f"{self.server.name} exited ({self.process.returncode})")
        start = max(self.checked - len(WORKER_EXIT), 0)  # a marker may straddle two reads
        with self.log.open("rb") as log:
            log.seek(start)
            new = log.read()
        self.checked = start + len(new)
        if WORKER_EXIT in new:
            raise ServerDied(f"{self.server.name}: a granian worker exited")

    def workers_started(self) -> int:
        return self.log.read_bytes().count(WORKER_STARTED)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means it is up
    except OSError:
        return False


def wait_until_up(live: Live, probe_path: str) -> None:
    """Until it answers and every granian worker has started (a worker may die at start)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        live.check()
        if live.workers_started() >= live.server.workers and answers(live.base + probe_path):
            live.check()
            return
        time.sleep(0.2)
    raise RuntimeError(f"{live.server.name} did not answer within {START_TIMEOUT_S:.0f} s:\n"
                       f"{live.messages()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the server's own process group (its workers)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)


def launch(server: Server, port: int, log: Path) -> Live:
    """Start the server in its own session: Ctrl-C reaches this script, which stops it."""
    with log.open("wb") as out:
        process = subprocess.Popen(server.command, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Live(server, process, log, f"http://{HOST}:{port}")


@contextlib.contextmanager
def running(server: Server, port: int, probe_path: str, work: Path,
            failed_starts: list[str]) -> Iterator[Live]:
    """A server that is up; a start that fails is logged in failed_starts and retried."""
    for attempt in range(1, START_ATTEMPTS + 1):
        live = launch(server, port, work / f"{server.name}-{attempt}.log")
        try:
            wait_until_up(live, probe_path)
            break
        except ServerDied as error:
            stop(live.process)
            failed_starts.append(f"{error} ({live.cause()})")
            print(f"   start {attempt} failed: {error}; server said:\n{live.messages(8)}",
                  file=sys.stderr)
        except BaseException:
            stop(live.process)
            raise
    else:
        raise RuntimeError(f"{server.name} failed to start {START_ATTEMPTS} times")
    try:
        yield live
    finally:
        stop(live.process)


# --------------------------------------------------------------------------- probe

@dataclass
class Probe:
    """One urllib request before measuring: what the server really answered."""

    status: int
    content_type: str
    size: int
    conformant: bool
    note: str
    violations: list[str] = field(default_factory=list)  # Prism's sl-violations header


def fetch(base: str, case: Case, extra: dict[str, str]) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(base + case.target, data=case.body or None,
                                     method=case.method, headers={**case.headers, **extra})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def violations(headers: Message) -> list[str]:
    """What Prism says is wrong with its own answer or the request (sl-violations)."""
    raw = headers.get("sl-violations")
    if not raw:
        return []
    try:
        found = sorted(json.loads(raw), key=lambda v: -len(v.get("location", [])))
        return [f"{'.'.join(map(str, v.get('location', [])))}: {v.get('message')}"
                for v in found]  # deepest first: the cause of an anyOf cascade
    except (ValueError, AttributeError):
        return [raw]


def media(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def body_shape(body: bytes, media_type: str) -> str:
    """The top of the document: the root element, or the JSON object's keys."""
    try:
        if media_type.endswith("xml"):
            return f"<{ET.fromstring(body).tag}>"
        data = json.loads(body)
        return "{" + ",".join(sorted(data)) + "}" if isinstance(data, dict) else type(data).__name__
    except (ET.ParseError, ValueError):
        return "unparsable"


def judge(status: int, content_type: str, body: bytes, expected: Expected) -> tuple[bool, str]:
    if status != expected.status:
        return False, f"status {status}, expected {expected.status}"
    if media(content_type) != media(expected.content_type):
        return False, f"Content-Type {content_type!r}, expected {expected.content_type!r}"
    if body == expected.body:
        return True, "same bytes as capmock"
    got, want = body_shape(body, media(content_type)), body_shape(expected.body,
                                                                  media(content_type))
    if got != want:
        return False, f"body {got}, expected {want}"
    return True, f"same shape {got}, other bytes"


def probe(base: str, case: Case, server: Server, expected: Expected) -> Probe:
    status, headers, body = fetch(base, case, server.headers)
    content_type = headers.get("Content-Type", "")
    conformant, note = judge(status, content_type, body, expected)
    if not conformant:
        note = f"{server.name}: not conformant (status {status}): {note}; got {body[:120]!r}"
    return Probe(status, content_type, len(body), conformant, note, violations(headers))


# --------------------------------------------------------------------------- wrk

@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def lua_string(data: bytes) -> str:
    """A Lua string literal for any bytes (decimal escapes outside printable ASCII)."""
    safe = (chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b:03d}" for b in data)
    return '"' + "".join(safe) + '"'


def lua_script(case: Case, extra: dict[str, str]) -> str:
    lines = [f"wrk.method = {lua_string(case.method.encode())}"]
    if case.body:
        lines.append(f"wrk.body = {lua_string(case.body)}")
    for name, value in {**case.headers, **extra}.items():
        lines.append(f"wrk.headers[{lua_string(name.encode())}] = {lua_string(value.encode())}")
    return "\n".join(lines) + "\n"


def latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {percentile}% latency in wrk output:\n{output}")
    return float(match[1]) * UNIT_MS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if rate is None or total is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    return WrkResult(
        requests_per_s=float(rate[1]), p50_ms=latency_ms(output, "50"),
        p99_ms=latency_ms(output, "99"), requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
    )


def run_wrk(url: str, script: Path, threads: int, connections: int, seconds: int) -> str:
    command = [WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-s", str(script), url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr}")
    return result.stdout


# --------------------------------------------------------------------------- run

@dataclass
class Row:
    """One server on one case: the probe, then one wrk result per round."""

    server: str
    case: str
    probe: Probe
    runs: list[WrkResult] = field(default_factory=list)

    @property
    def wrk(self) -> WrkResult | None:
        """The median of the rounds, metric by metric (the run itself with one round)."""
        if not self.runs:
            return None
        return WrkResult(
            requests_per_s=statistics.median(r.requests_per_s for r in self.runs),
            p50_ms=statistics.median(r.p50_ms for r in self.runs),
            p99_ms=statistics.median(r.p99_ms for r in self.runs),
            requests=sum(r.requests for r in self.runs),
            non_2xx=sum(r.non_2xx for r in self.runs),
            socket_errors=sum(r.socket_errors for r in self.runs),
        )


@dataclass
class Plan:
    cases: list[Case]
    expected: dict[str, Expected]
    threads: int
    connections: int
    duration: int
    warmup: int
    workers: int
    rounds: int
    baseline: Path | None = None


def start_all(stack: contextlib.ExitStack, names: list[str], plan: Plan, work: Path,
              prism: Path | None, notes: list[str]) -> list[Live]:
    """Every server up at once (idle ones cost nothing), stopped when the stack closes."""
    files = write_inputs(plan, work)
    lives = []
    for name in names:
        port = free_port()
        server = make_server(name, port, plan.workers, files, prism, plan.baseline)
        if server is None:
            continue
        print(f"-- starting {server.name}: {' '.join(server.command)}", file=sys.stderr)
        failed: list[str] = []
        lives.append(stack.enter_context(running(server, port, plan.cases[0].path, work,
                                                 failed)))
        notes += [f"{server.name}: a start failed and was retried: {f}" for f in failed]
    return lives


def probe_all(lives: list[Live], plan: Plan) -> dict[tuple[str, str], Row]:
    return {(live.server.name, case.name): Row(live.server.name, case.name,
                                               probe(live.base, case, live.server,
                                                     plan.expected[case.name]))
            for live in lives for case in plan.cases}


def load(live: Live, case: Case, plan: Plan, work: Path) -> WrkResult:
    """A warm-up run, then the measured one; the server must still be whole after it."""
    script = work / f"{live.server.name}-{case.name}.lua"
    script.write_text(lua_script(case, live.server.headers), "utf-8")
    url = live.base + case.target
    try:
        if plan.warmup > 0:
            run_wrk(url, script, plan.threads, plan.connections, plan.warmup)
        result = parse_wrk(run_wrk(url, script, plan.threads, plan.connections, plan.duration))
        live.check()  # numbers from a server that lost a worker are not comparable
    except (RuntimeError, ValueError, OSError) as error:
        raise RuntimeError(f"{live.server.name}, {case.name}: {error}\n"
                           f"server log:\n{live.messages()}") from error
    return result


def measure_all(lives: list[Live], plan: Plan, work: Path,
                rows: dict[tuple[str, str], Row]) -> None:
    """Round after round, case after case, the servers back to back (drift hits
    all). Each round starts with the next server, so none always runs right
    after Prism's node process or first on a cold machine."""
    for round_no in range(1, plan.rounds + 1):
        shift = (round_no - 1) % len(lives)
        for case in plan.cases:
            for live in lives[shift:] + lives[:shift]:
                result = load(live, case, plan, work)
                rows[(live.server.name, case.name)].runs.append(result)
                print(f"   round {round_no} {case.name:9} {live.server.name:12} "
                      f"{result.requests_per_s:>10,.0f} req/s", file=sys.stderr)


def write_inputs(plan: Plan, work: Path) -> dict[str, Path]:
    """The spec for Prism and the canned-answer table for bare Flask."""
    spec = work / contract.SPEC_NAME
    spec.write_text(contract.package_text(contract.SPEC_NAME), "utf-8")
    table = {f"{c.method} {c.target}": {
        "status": plan.expected[c.name].status,
        "content_type": plan.expected[c.name].content_type,
        "body_b64": base64.b64encode(plan.expected[c.name].body).decode()} for c in plan.cases}
    table_path = work / "bare_flask_responses.json"
    table_path.write_text(json.dumps(table, indent=1), "utf-8")
    return {"spec": spec, "table": table_path}


# --------------------------------------------------------------------------- report

def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def status_seen(row: Row) -> str:
    seen = f"{row.probe.status} {media(row.probe.content_type) or '-'}"
    if row.wrk and row.wrk.non_2xx and row.probe.status < 300:
        seen += f" (+{row.wrk.non_2xx} non-2xx under load)"
    if row.wrk and row.wrk.socket_errors:
        seen += f" ({row.wrk.socket_errors} socket errors)"
    if not row.probe.conformant:
        seen += f"  {row.server}: not conformant (status {row.probe.status})"
    return seen


def summary(items: list[str], keep: int = 2) -> str:
    """The first distinct items, and how many more there are."""
    distinct = list(dict.fromkeys(items))
    more = f" (+{len(distinct) - keep} more)" if len(distinct) > keep else ""
    return "; ".join(distinct[:keep]) + more


def case_table(case: Case, rows: list[Row]) -> str:
    lines = [f"\n{case.title}: {case.method} {case.target}",
             f"  {'server':<12} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}  status seen"]
    for row in rows:
        rate = f"{row.wrk.requests_per_s:,.0f}" if row.wrk else "-"
        lines.append(f"  {row.server:<12} {rate:>10} {fmt_ms(row.wrk and row.wrk.p50_ms):>8} "
                     f"{fmt_ms(row.wrk and row.wrk.p99_ms):>8}  {status_seen(row)}")
    notes = [f"  note: {row.probe.note}" for row in rows if not row.probe.conformant]
    notes += [f"  note: {row.server} flagged (sl-violations): {summary(row.probe.violations)}"
              for row in rows if row.probe.violations]
    return "\n".join(lines + notes)


def find(rows: list[Row], server: str, case: str) -> Row | None:
    return next((r for r in rows if r.server == server and r.case == case and r.wrk), None)


def round_ratios(rows: list[Row], case: str, mine: str, theirs: str) -> list[float]:
    """mine/theirs in req/s, round by round: each pair ran back to back, so the
    machine's drift between rounds (here +-30 %) cancels out of each ratio.
    Empty if either is missing or theirs did not conform."""
    a, b = find(rows, mine, case), find(rows, theirs, case)
    if a is None or b is None or not b.probe.conformant:
        return []
    return [x.requests_per_s / y.requests_per_s for x, y in zip(a.runs, b.runs, strict=True)]


def ratio(rows: list[Row], case: str, mine: str, theirs: str) -> float | None:
    """The median of the per-round ratios; None if there are none."""
    paired = round_ratios(rows, case, mine, theirs)
    return statistics.median(paired) if paired else None


def ratios(rows: list[Row], cases: list[Case]) -> dict[str, dict[str, float | None]]:
    return {c.name: {label: ratio(rows, c.name, *pair) for label, pair in RATIO_PAIRS.items()}
            for c in cases}


RATIO_PAIRS = {"capmock/prism": ("capmock", "prism"),
               "capmock/bare": ("capmock", "bare-flask"),
               "capmock+log/bare": ("capmock+log", "bare-flask"),
               "capmock/baseline": ("capmock", "baseline")}


def ratio_cell(rows: list[Row], case: str, label: str, value: float | None) -> str:
    if value is not None:
        show = "{:.2f}x" if label.endswith("prism") else "{:.0%}"
        paired = round_ratios(rows, case, *RATIO_PAIRS[label])
        spread = (f" ({show.format(min(paired))}-{show.format(max(paired))})"
                  if len(paired) > 1 else "")
        return show.format(value) + spread
    for name in RATIO_PAIRS[label]:
        row = find(rows, name, case)
        if row is None:
            return f"{name} not run"
        if not row.probe.conformant:
            return f"{name} not conformant (status {row.probe.status})"
    return "-"


def ratio_table(rows: list[Row], cases: list[Case]) -> str:
    table = ratios(rows, cases)
    width = 34
    lines = ["\nratios (req/s): median of the rounds' ratios (lowest-highest round)",
             f"  {'case':<9}" + "".join(f"{k:>{width}}" for k in RATIO_PAIRS)]
    for case in cases:
        cells = [ratio_cell(rows, case.name, label, value)
                 for label, value in table[case.name].items()]
        lines.append(f"  {case.name:<9}" + "".join(f"{cell:>{width}}" for cell in cells))
    return "\n".join(lines)


@dataclass
class Target:
    name: str
    holds: bool | None  # None: nothing to compare
    detail: str


def min_ratio_target(name: str, values: dict[str, float | None], floor: float,
                     show: str) -> Target:
    known = {case: v for case, v in values.items() if v is not None}
    skipped = sorted(set(values) - set(known))
    if not known:
        return Target(name, None, "no comparable case")
    worst = min(known, key=known.__getitem__)
    detail = f"lowest {show.format(known[worst])} on {worst}"
    if skipped:
        detail += f"; not compared: {', '.join(skipped)}"
    return Target(name, known[worst] >= floor, detail)


def p99_target(rows: list[Row], connections: int) -> Target:
    mine = [r for r in rows if r.server == "capmock" and r.wrk]
    name = f"capmock p99 < {TARGET_P99_MS:g} ms at {TARGET_CONNECTIONS} connections"
    if not mine:
        return Target(name, None, "capmock not run")
    worst = max(mine, key=lambda r: r.wrk.p99_ms)
    detail = f"highest {worst.wrk.p99_ms:.2f} ms on {worst.case}"
    if connections != TARGET_CONNECTIONS:
        detail += f" (measured at {connections} connections, not {TARGET_CONNECTIONS})"
    return Target(name, worst.wrk.p99_ms < TARGET_P99_MS, detail)


def targets(rows: list[Row], cases: list[Case], connections: int) -> list[Target]:
    table = ratios(rows, cases)
    return [
        min_ratio_target(f"capmock >= {TARGET_PRISM_RATIO:g}x Prism on every case",
                         {c: r["capmock/prism"] for c, r in table.items()},
                         TARGET_PRISM_RATIO, "{:.1f}x"),
        min_ratio_target(f"capmock >= {TARGET_BARE_SHARE:.0%} of bare Flask on every case",
                         {c: r["capmock/bare"] for c, r in table.items()},
                         TARGET_BARE_SHARE, "{:.0%}"),
        p99_target(rows, connections),
        min_ratio_target(f"capmock >= {TARGET_BASELINE_SHARE:.0%} of the baseline on every case",
                         {c: r["capmock/baseline"] for c, r in table.items()},
                         TARGET_BASELINE_SHARE, "{:.0%}"),
    ]


def target_table(found: list[Target]) -> str:
    verdict = {True: "PASS", False: "FAIL", None: "n/a"}
    lines = ["\ntargets (capmock = --no-access-log)"]
    lines += [f"  {verdict[t.holds]:<5} {t.name}: {t.detail}" for t in found]
    return "\n".join(lines)


def report(rows: list[Row], plan: Plan, notes: list[str]) -> str:
    header = (f"capmock replay throughput: wrk -t{plan.threads} -c{plan.connections} "
              f"-d{plan.duration}s (after a {plan.warmup} s warm-up), "
              f"{plan.workers} granian workers, {os.cpu_count()} CPUs, loopback"
              + (f"; median of {plan.rounds} rounds" if plan.rounds > 1 else ""))
    tables = [case_table(c, [r for r in rows if r.case == c.name]) for c in plan.cases]
    found = targets(rows, plan.cases, plan.connections)
    parts = [header, *tables, ratio_table(rows, plan.cases), target_table(found)]
    if notes:
        parts.append("\nnotes\n" + "\n".join(f"  - {note}" for note in notes))
    return "\n".join(parts)


# --------------------------------------------------------------------------- save

def environment() -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "wrk": tool_version([WRK, "--version"]),
            "prism": tool_version([str(PRISM), "--version"]) if PRISM.exists() else "absent",
            **{name: version(name) for name in ("capmock", "flask", "werkzeug", "granian")}}


def save(rows: list[Row], plan: Plan, notes: list[str]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"mock_throughput-{datetime.now().strftime('%Y-%m-%d')}.json"
    document = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "environment": environment(),
        "parameters": {"threads": plan.threads, "connections": plan.connections,
                       "duration_s": plan.duration, "warmup_s": plan.warmup,
                       "workers": plan.workers, "rounds": plan.rounds},
        "cases": {c.name: {"method": c.method, "target": c.target, "headers": c.headers,
                           "body_bytes": len(c.body)} for c in plan.cases},
        "rows": [{**asdict(row), "median": asdict(row.wrk) if row.wrk else None}
                 for row in rows],
        "ratios": ratios(rows, plan.cases),
        "targets": [asdict(t) for t in targets(rows, plan.cases, plan.connections)],
        "notes": notes,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    return path


# --------------------------------------------------------------------------- main

def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=positive, default=10, help="seconds per run, whole (10)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="seconds of unmeasured load before each run (2)")
    parser.add_argument("--connections", type=positive, default=32, help="wrk -c (32)")
    parser.add_argument("--threads", type=positive, default=2, help="wrk -t (2)")
    parser.add_argument("--workers", type=positive, default=2,
                        help="granian workers for capmock and bare Flask (2)")
    parser.add_argument("--cases", nargs="+", choices=list(all_cases()),
                        default=list(all_cases()), help="cases to run (all)")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS),
                        help="servers to run (all)")
    parser.add_argument("--rounds", type=positive, default=1,
                        help="measure every server/case N times, report the median (1)")
    parser.add_argument("--baseline", type=Path, metavar="CAPMOCK",
                        help="the capmock executable of another install (a previous "
                             "release's venv/bin/capmock): adds the baseline row and "
                             "the capmock/baseline ratio")
    parser.add_argument("--quick", action="store_true", help="3 s runs after a 1 s warm-up")
    parser.add_argument("--save", action="store_true",
                        help="write bench/results/mock_throughput-<date>.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 3, 1
    if args.baseline is not None:
        if not args.baseline.is_file() or not os.access(args.baseline, os.X_OK):
            parser.error(f"--baseline {args.baseline}: not an executable file")
        if "baseline" not in args.servers:
            args.servers.append("baseline")
    elif "baseline" in args.servers:
        args.servers.remove("baseline")  # nothing to run without --baseline
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    cases = [all_cases()[name] for name in args.cases]
    return Plan(cases=cases, expected={c.name: expected_answer(c) for c in cases},
                threads=min(args.threads, args.connections), connections=args.connections,
                duration=args.duration, warmup=args.warmup, workers=args.workers,
                rounds=args.rounds, baseline=args.baseline)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_wrk()
    prism = ensure_prism() if "prism" in args.servers else None
    plan = make_plan(args)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="capmock-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        work = Path(tmp)
        lives = start_all(stack, args.servers, plan, work, prism, notes)
        table = probe_all(lives, plan)
        measure_all(lives, plan, work, table)
    rows = list(table.values())
    print(report(rows, plan, notes))
    if args.save:
        print(f"\nsaved {save(rows, plan, notes).relative_to(REPO)}")
    return 0


def interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(main: Callable[[], int]) -> None:
    """Run a benchmark's main; SIGTERM stops its servers as Ctrl-C does."""
    signal.signal(signal.SIGTERM, interrupted)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: servers stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    run(main)

"""Speed of the conformance suite: `capmock verify` next to a plain `st run`.

Same machine, same run, same mock: `capmock serve --workers 2 --no-access-log`
on a free 127.0.0.1 port, one client at a time, rounds interleaved (every
client once per round, 2 rounds, median reported):

- capmock      `capmock verify --base-url URL`: the full default run (19
               operations, json then xml, all four phases, max-examples 10,
               seed 0, deterministic generation, one worker);
- st           `st run DOC --url URL` on the packaged OpenAPI document with the
               same phases, max-examples, seed, deterministic generation and
               worker count, `--continue-on-failure`, and st's default checks;
- st-minimal   the same with `--checks not_a_server_error`: the difference to
               `st` is what st's own checks cost;
- sandbox      `capmock verify` (full default run) against a fresh sandbox:
               `capmock serve --mode sandbox --workers 2` on a new SQLite file
               for every round, started before the clock starts (full runs
               only; --no-sandbox leaves it out).

Each client runs once with all phases (the wall-time target) and once per
phase: the phases cost very different amounts per case (coverage cases are
cheap, fuzzing and stateful ones dear) and the two tools' phase mixes differ,
so per-phase cases/s is the like-for-like comparison.

Cases are counted the same way for every tool: each client runs in a child
Python process (this script with --child) that counts the HTTP requests it
sends through `requests.Session.send`, the one door schemathesis and
capmock's state probe send through: cases = requests sent. Each tool's own
count is shown beside it as a cross-check: st's summary line ("N generated")
and, for capmock, the results of `format_is_honoured`, which judges every
response (passed + failed over all cells).

`--profile` instead runs capmock's suite in this process against the mock
under cProfile (every thread) and prints where the client's time goes.

Targets: the capmock run under 60 s on a 2-core machine (the sandbox run
under 90 s), and at most 20% lower throughput (cases/s) than plain `st run`.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SCRIPT = Path(__file__).resolve()
BIN = Path(sys.executable).parent
DOCUMENT = "capillary-customer-v1.1.yaml"
PHASES = "examples,coverage,fuzzing,stateful"
ALL = "all"
CLIENTS = ("capmock", "st", "st-minimal")  # against one replay mock, compared
SANDBOX = "sandbox"  # capmock verify against a fresh sandbox server per round
URL = "{url}"  # in a client's arguments: the base URL of the server it runs against
COMPARABLE = ("examples", "coverage", "fuzzing")  # phases compared like for like
DEFAULT_MAX_EXAMPLES = 10
WALL_TARGET_S = 60.0
SANDBOX_TARGET_S = 90.0
THROUGHPUT_BUDGET = 0.80  # capmock's cases/s at least 80% of st's
HEALTH_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PROFILE_TOP = 15


@dataclass
class Sample:
    """One run of one client."""

    wall_s: float
    cpu_s: float  # the client process's user + system time
    server_cpu_s: float | None  # the mock's processes, while this client ran
    requests: int  # HTTP requests the client sent
    tool_count: int | None  # the tool's own count of cases
    exit_code: int


@dataclass
class Result:
    """The median of a client's samples."""

    name: str
    phases: str
    command: str
    samples: list[Sample]

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)

    def optional_median(self, attribute: str) -> float | None:
        values = [getattr(s, attribute) for s in self.samples]
        return None if None in values else statistics.median(values)

    @property
    def requests(self) -> int:
        return int(self.median("requests"))

    @property
    def cases_per_s(self) -> float:
        return self.requests / self.median("wall_s")

    @property
    def cases_per_cpu_s(self) -> float:
        return self.requests / self.median("cpu_s")


# --- the child: run one tool, count what it sends ----------------------------------

def install_counter() -> itertools.count:
    """Count every request sent through requests (next() on a count is atomic)."""
    import requests

    counter = itertools.count()
    send = requests.Session.send

    def counting_send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        next(counter)
        return send(self, request, **kwargs)

    requests.Session.send = counting_send  # type: ignore[method-assign]
    return counter


def format_checks(matrix: Any) -> int:
    """How many responses capmock's format_is_honoured judged."""
    return sum(cell.passed + cell.failed for (_op, _fmt, check), cell in matrix.cells.items()
               if check == "format_is_honoured")


def keep_matrix(kept: dict[str, Any]) -> None:
    """Let the child see the matrix `capmock verify` prints."""
    from capmock.contracts import runner

    run = runner.run

    def keeping_run(*args: Any, **kwargs: Any) -> Any:
        kept["matrix"] = run(*args, **kwargs)
        return kept["matrix"]

    runner.run = keeping_run  # type: ignore[assignment]


def child(tool: str, count_file: Path, args: list[str]) -> None:
    """Run `capmock ARGS` or `st ARGS` in this process, then write the counts."""
    counter = install_counter()
    kept: dict[str, Any] = {}
    if tool == "capmock":
        keep_matrix(kept)
        from capmock.openapi.cli import main
    else:
        from schemathesis.cli import schemathesis as main
    sys.argv = [tool, *args]
    try:
        main()
    finally:
        checked = format_checks(kept["matrix"]) if "matrix" in kept else None
        count_file.write_text(json.dumps({"requests": next(counter), "checked": checked}))


# --- the mock ----------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/__capmock/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while not healthy(url):
        if server.poll() is not None:
            raise SystemExit(f"capmock serve exited with {server.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"capmock serve did not answer {url}/__capmock/health")
        time.sleep(0.2)


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@contextlib.contextmanager
def mock_server(log: Path, *extra: str) -> Iterator[tuple[str, int]]:
    """`capmock serve EXTRA` on a free port: its base URL and pid, stopped on the
    way out."""
    port = free_port()
    command = [str(BIN / "capmock"), "serve", "--host", HOST, "--port", str(port),
               "--workers", "2", "--no-access-log", *extra]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://{HOST}:{port}"
            wait_healthy(url, server)
            yield url, server.pid
        finally:
            stop(server)


def process_tree(pid: int) -> list[int]:
    """pid and its descendants (granian's workers), from /proc; [pid] elsewhere."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child_pid in task.read_text().split():
                pids += process_tree(int(child_pid))
    return pids


def cpu_seconds(pid: int) -> float | None:
    """User + system time of a process tree, or None where /proc is not there."""
    total = 0.0
    try:
        for each in process_tree(pid):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


# --- one client run ----------------------------------------------------------------

def run_child(tool: str, args: list[str], server_pid: int, log: Path) -> Sample:
    """Run a tool as a counting child process: wall time, CPU time, requests."""
    with tempfile.TemporaryDirectory(prefix="verify-speed-") as tmp:
        count_file = Path(tmp) / "count.json"
        command = [sys.executable, str(SCRIPT), "--child", tool, str(count_file), *args]
        server_before = cpu_seconds(server_pid)
        started = time.perf_counter()
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        server_after = cpu_seconds(server_pid)
        counts = json.loads(count_file.read_text()) if count_file.exists() else {}
    server_cpu = (server_after - server_before
                  if server_before is not None and server_after is not None else None)
    output = log.read_text(errors="replace")
    tool_count = counts.get("checked") if tool == "capmock" else st_generated(output)
    return Sample(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime, server_cpu_s=server_cpu,
                  requests=counts.get("requests", 0), tool_count=tool_count,
                  exit_code=process.returncode)


def st_generated(output: str) -> int | None:
    """The number in st's summary line "Test cases: N generated, ..."."""
    found = re.search(r"Test cases:\s*\n\s*(\d+) generated", output)
    return int(found.group(1)) if found else None


# --- the clients -------------------------------------------------------------------

@dataclass(frozen=True)
class Client:
    name: str  # one of CLIENTS, or SANDBOX
    phases: str  # ALL or one phase
    tool: str
    args: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.name} [{self.phases}]"

    def command(self) -> str:
        return " ".join([self.tool, *self.args])

    def arguments(self, url: str) -> list[str]:
        return [url if arg == URL else arg for arg in self.args]


def capmock_args(url: str, phases: str, max_examples: int) -> list[str]:
    """`capmock verify --base-url URL`, plus only what differs from its defaults."""
    args = ["verify", "--base-url", url]
    if phases != ALL:
        args += ["--phases", phases]
    if max_examples != DEFAULT_MAX_EXAMPLES:
        args += ["--max-examples", str(max_examples)]
    return args


def st_args(url: str, document: Path, phases: str, max_examples: int) -> list[str]:
    """`st run` with capmock verify's settings: phases, examples, seed, determinism,
    one worker, and every planned case sent even after a failure (capmock's own
    mock passes capmock's checks, so capmock's runs never stop early)."""
    return ["run", str(document), "--url", url,
            "--phases", PHASES if phases == ALL else phases,
            "--max-examples", str(max_examples), "--seed", "0", "--generation-deterministic",
            "--workers", "1", "--continue-on-failure", "--no-color"]


def client(name: str, phases: str, document: Path, max_examples: int) -> Client:
    if name in ("capmock", SANDBOX):
        return Client(name, phases, "capmock", tuple(capmock_args(URL, phases, max_examples)))
    args = st_args(URL, document, phases, max_examples)
    if name == "st-minimal":
        args += ["--checks", "not_a_server_error"]
    return Client(name, phases, "st", tuple(args))


def clients(document: Path, max_examples: int, split: bool, sandbox: bool) -> list[Client]:
    phase_sets = [ALL, *(PHASES.split(",") if split else [])]
    plan = [client(name, phases, document, max_examples)
            for phases in phase_sets for name in CLIENTS]
    return plan + ([client(SANDBOX, ALL, document, max_examples)] if sandbox else [])


def packaged_document(directory: Path) -> Path:
    """The OpenAPI document capmock ships, copied to a file st can read."""
    path = directory / DOCUMENT
    path.write_bytes(resources.files("capmock.openapi").joinpath(DOCUMENT).read_bytes())
    return path


@contextlib.contextmanager
def fresh_sandbox(logs: Path, attempt: int) -> Iterator[tuple[str, int]]:
    """A sandbox server on a new SQLite file (seeded as `capmock serve` seeds it)."""
    with (tempfile.TemporaryDirectory(prefix="verify-speed-sandbox-") as tmp,
          mock_server(logs / f"serve.{SANDBOX}.{attempt}.log", "--mode", "sandbox",
                      "--store", str(Path(tmp) / "sandbox.sqlite")) as server):
        yield server


def measure(plan: list[Client], repeat: int, replay: tuple[str, int],
            logs: Path) -> list[Result]:
    """Every client once per round; rounds interleave, so drift hits all clients."""
    samples: dict[Client, list[Sample]] = {c: [] for c in plan}
    for attempt in range(1, repeat + 1):
        for each in plan:
            log = logs / f"{each.name}.{each.phases}.{attempt}.log"
            with (fresh_sandbox(logs, attempt) if each.name == SANDBOX
                  else contextlib.nullcontext(replay)) as (url, server_pid):
                sample = run_child(each.tool, each.arguments(url), server_pid, log)
            print(f"  round {attempt} {each.label}: {sample.wall_s:.1f} s, "
                  f"{sample.requests} requests, exit {sample.exit_code}",
                  file=sys.stderr, flush=True)
            samples[each].append(sample)
    return [Result(c.name, c.phases, c.command(), s) for c, s in samples.items()]


# --- the report --------------------------------------------------------------------

def load() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "n/a"


def versions() -> str:
    names = ("capmock", "schemathesis", "hypothesis", "granian")
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return ", ".join(found)


def optional(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def table(results: list[Result]) -> str:
    head = (f"{'client':12} {'phases':9} {'wall s':>7} {'cpu s':>6} {'srv cpu s':>9} "
            f"{'requests':>8} {'own count':>9} {'cases/s':>8} {'cases/cpu-s':>11}")
    lines = [head, "-" * len(head)]
    for r in results:
        server = optional(r.optional_median("server_cpu_s"), "9.1f")
        own = optional(r.optional_median("tool_count"), "9.0f")
        lines.append(f"{r.name:12} {r.phases:9} {r.median('wall_s'):7.1f} "
                     f"{r.median('cpu_s'):6.1f} {server:>9} {r.requests:8d} {own:>9} "
                     f"{r.cases_per_s:8.1f} {r.cases_per_cpu_s:11.1f}")
    return "\n".join(lines)


def on_mix(capmock: list[Result], reference: list[Result], per: str) -> float:
    """capmock's throughput relative to the reference's on the reference's phase mix:
    the reference's time for its cases over the time capmock would take for them
    at its own per-phase rate."""
    rate = {r.phases: getattr(r, per) for r in capmock}
    theirs = sum(r.requests / getattr(r, per) for r in reference)
    ours = sum(r.requests / rate[r.phases] for r in reference)
    return theirs / ours


def ratio_table(by: dict[tuple[str, str], Result], phase_sets: list[str]) -> list[str]:
    lines = [f"{'capmock / ...':14} {'st run':>8} {'(cpu)':>6} {'st minimal':>11} {'(cpu)':>6}"
             f"   {'st run / st minimal':>19} {'(cpu)':>6}"]
    for phases in phase_sets:
        cm, st, low = (by[name, phases] for name in CLIENTS)
        lines.append(f"{phases:14} {cm.cases_per_s / st.cases_per_s:8.2f} "
                     f"{cm.cases_per_cpu_s / st.cases_per_cpu_s:6.2f} "
                     f"{cm.cases_per_s / low.cases_per_s:11.2f} "
                     f"{cm.cases_per_cpu_s / low.cases_per_cpu_s:6.2f}   "
                     f"{st.cases_per_s / low.cases_per_s:19.2f} "
                     f"{st.cases_per_cpu_s / low.cases_per_cpu_s:6.2f}")
    if len(phase_sets) > 1:
        cm, st, low = ([by[name, p] for p in COMPARABLE] for name in CLIENTS)
        lines.append(f"{'their mix (*)':14} {on_mix(cm, st, 'cases_per_s'):8.2f} "
                     f"{on_mix(cm, st, 'cases_per_cpu_s'):6.2f} "
                     f"{on_mix(cm, low, 'cases_per_s'):11.2f} "
                     f"{on_mix(cm, low, 'cases_per_cpu_s'):6.2f}")
        lines.append(f"(*) {'+'.join(COMPARABLE)}, each at capmock's own rate, weighted by "
                     "the other tool's cases")
    return lines


def budget_line(what: str, ratio: float) -> str:
    verdict = "met   " if ratio >= THROUGHPUT_BUDGET else "MISSED"
    return f"{verdict} capmock >= {THROUGHPUT_BUDGET:.0%} of st run's cases/s, {what}: {ratio:.2f}"


def wall_line(wall_s: float, default_run: bool) -> str:
    if not default_run:
        return (f"n/a    the {WALL_TARGET_S:.0f} s target is for the default max-examples "
                f"{DEFAULT_MAX_EXAMPLES}; capmock verify took {wall_s:.1f} s")
    verdict = "met   " if wall_s < WALL_TARGET_S else "MISSED"
    return (f"{verdict} capmock verify (full default run) "
            f"under {WALL_TARGET_S:.0f} s: {wall_s:.1f} s")


def sandbox_line(by: dict[tuple[str, str], Result], default_run: bool) -> list[str]:
    if (SANDBOX, ALL) not in by:
        return []
    wall_s, exits = by[SANDBOX, ALL].median("wall_s"), exit_codes(by[SANDBOX, ALL])
    if not default_run:
        return [f"n/a    the {SANDBOX_TARGET_S:.0f} s sandbox target is for the default "
                f"max-examples {DEFAULT_MAX_EXAMPLES}; it took {wall_s:.1f} s (exit {exits})"]
    verdict = "met   " if wall_s < SANDBOX_TARGET_S and exits == "0" else "MISSED"
    return [f"{verdict} capmock verify against a fresh sandbox under "
            f"{SANDBOX_TARGET_S:.0f} s, exit 0: {wall_s:.1f} s, exit {exits}"]


def verdicts(by: dict[tuple[str, str], Result], phase_sets: list[str],
             default_run: bool) -> list[str]:
    full = by["capmock", ALL]
    lines = [wall_line(full.median("wall_s"), default_run), *sandbox_line(by, default_run),
             budget_line("full runs (phase mixes differ)",
                         full.cases_per_s / by["st", ALL].cases_per_s)]
    if len(phase_sets) == 1:
        return lines
    for phase in COMPARABLE:
        share = by["capmock", phase].requests / full.requests
        lines.append(budget_line(f"{phase} phase alone ({share:.1%} of capmock's cases)",
                                 by["capmock", phase].cases_per_s / by["st", phase].cases_per_s))
    mix = on_mix([by["capmock", p] for p in COMPARABLE], [by["st", p] for p in COMPARABLE],
                 "cases_per_s")
    lines.append(budget_line(f"{' + '.join(COMPARABLE)} on st's mix", mix))
    lines.append("n/a    stateful phase: not like for like (the number of requests st sends "
                 "there depends on its checks)")
    return lines


def exit_codes(*results: Result) -> str:
    codes = sorted({s.exit_code for r in results for s in r.samples})
    return "/".join(map(str, codes))


def report(results: list[Result], settings: str, load_before: str, default_run: bool) -> str:
    by = {(r.name, r.phases): r for r in results}
    phase_sets = list(dict.fromkeys(r.phases for r in results if r.name in CLIENTS))
    exits = "; ".join(f"{name}: {exit_codes(*(r for r in results if r.name == name))}"
                      for name in dict.fromkeys(r.name for r in results))
    return "\n".join([
        f"verify_speed: {settings}",
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f", {versions()}",
        f"load average before: {load_before}; after: {load()}",
        "",
        table(results),
        "requests: HTTP requests the client sent (counted in its process); own count: st's "
        "\"N generated\",",
        "capmock's format_is_honoured results; cpu s: the client process (user + system); "
        "srv cpu s: the mock's.",
        "",
        "throughput ratios, cases/s (and cases per client CPU-s):",
        *ratio_table(by, phase_sets),
        "",
        *verdicts(by, phase_sets, default_run),
        f"exit codes: {exits} (st exits 1: its default checks and not_a_server_error fail on "
        "the mock's documented HTTP 500s; see bench/README.md)",
    ])


# --- where capmock's time goes (--profile) ------------------------------------------

ROUND_TRIP = "HTTP round trip (Case.call; includes waiting for the mock)"
CHECKS = "all checks (schemathesis run_checks)"
COST_CENTRES = (  # (label, file, function): cumulative time in every thread
    (ROUND_TRIP, "schemathesis/generation/case.py", "call"),
    ("  requests reading proxy settings from the environment",
     "requests/sessions.py", "merge_environment_settings"),
    ("  waiting for the mock's answer (socket recv_into)", "~", "<method 'recv_into' of "
     "'_socket.socket' objects>"),
    (CHECKS, "schemathesis/checks.py", "run_checks"),
    ("  xml_conforms_to_xsd", "contracts/checks.py", "xml_conforms_to_xsd"),
    ("    XSD validation (contract.xml_errors, all callers)", "openapi/contract.py", "xml_errors"),
    ("  errors_are_documented", "contracts/checks.py", "errors_are_documented"),
    ("    invalidity.request_is_invalid", "contracts/invalidity.py", "request_is_invalid"),
    ("      invalidity.body_is_invalid", "contracts/invalidity.py", "body_is_invalid"),
    ("      invalidity.query_is_invalid", "contracts/invalidity.py", "query_is_invalid"),
    ("  json_conforms_to_schema", "contracts/checks.py", "json_conforms_to_schema"),
    ("  envelope_is_coherent", "contracts/checks.py", "envelope_is_coherent"),
    ("  format_is_honoured", "contracts/checks.py", "format_is_honoured"),
    ("  documented_sample_is_accepted", "contracts/checks.py", "documented_sample_is_accepted"),
    ("  request_id_is_unique", "contracts/checks.py", "after_response"),
    ("  content_type_conformance (schemathesis)", "schemathesis/specs/openapi/checks.py",
     "content_type_conformance"),
    ("  status_code_conformance (schemathesis)", "schemathesis/specs/openapi/checks.py",
     "status_code_conformance"),
    ("JSON Schema validation (jsonschema iter_errors, all callers)",
     "jsonschema/validators.py", "iter_errors"),
    ("contract.json_errors_for (capmock's JSON Schema checks)", "openapi/contract.py",
     "json_errors_for"),
    ("stateful phase (whole)", "schemathesis/engine/run/stateful/__init__.py", "execute"),
)
WAITING = ("<method 'acquire' of '_thread.lock' objects>", "<built-in method time.sleep>")


@contextlib.contextmanager
def profiling_threads() -> Iterator[list[Any]]:
    """cProfile in every thread: schemathesis runs its tests in worker threads."""
    import cProfile
    import threading

    profiles: list[cProfile.Profile] = []
    run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.runcall(run, self)

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main_thread = cProfile.Profile()
    profiles.append(main_thread)
    main_thread.enable()
    try:
        yield profiles
    finally:
        main_thread.disable()
        threading.Thread.run = run  # type: ignore[method-assign]


def cumulative(stats: Any, file: str, function: str) -> float:
    return sum(row[3] for (path, _line, name), row in stats.stats.items()
               if name == function and path.replace("\\", "/").endswith(file))


def short(key: tuple[str, int, str]) -> str:
    path, line, name = key
    for prefix in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"],
                   str(SCRIPT.parents[1])):
        path = path.removeprefix(prefix)
    return f"{path.lstrip('/')}:{line}({name})"


def profile_report(stats: Any, cases: int, wall: float, top: int) -> str:
    work = sum(row[2] for key, row in stats.stats.items() if key[2] not in WAITING)
    lines = [f"profiled capmock run: {cases} cases, {wall:.1f} s wall under cProfile, "
             f"{work:.1f} s of work in all threads ({1000 * work / cases:.2f} ms/case "
             "profiled; cProfile inflates Python-heavy code)", "",
             f"{'cost centre (cumulative, all threads)':62} {'s':>7} {'share':>6} {'ms/case':>8}"]
    shown = {label: cumulative(stats, file, name) for label, file, name in COST_CENTRES}
    rest = work - shown[ROUND_TRIP] - shown[CHECKS]
    for label, seconds in [*shown.items(), ("generation, engine and the rest", rest)]:
        lines.append(f"{label:62} {seconds:7.2f} {100 * seconds / work:5.1f}% "
                     f"{1000 * seconds / cases:8.3f}")
    lines += ["", f"top {top} functions by own time (excluding waits on locks):"]
    own = sorted(((row[2], key) for key, row in stats.stats.items() if key[2] not in WAITING),
                 reverse=True)[:top]
    lines += [f"  {seconds:7.2f} {100 * seconds / work:5.1f}%  {short(key)}"
              for seconds, key in own]
    return "\n".join(lines)


def profile_capmock(url: str, max_examples: int, top: int) -> str:
    """Run capmock's suite in this process against the served mock, under cProfile."""
    import pstats

    from capmock.contracts import runner
    from capmock.contracts.options import Options

    started = time.perf_counter()
    with profiling_threads() as profiles:
        matrix = runner.run(Options(base_url=url, max_examples=max_examples))
    wall = time.perf_counter() - started
    for profile in profiles:
        profile.create_stats()
    stats = pstats.Stats(*profiles)
    return profile_report(stats, format_checks(matrix), wall, top)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="max-examples 3 and one repetition")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds of every client (default 2; 1 with --quick)")
    parser.add_argument("--no-split", dest="split", action="store_false",
                        help="only the full runs, not also one run per phase")
    parser.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                        help="leave out the run against a fresh sandbox")
    parser.add_argument("--profile", action="store_true",
                        help="instead: profile capmock's suite in-process against the mock")
    parser.add_argument("--logs", type=Path,
                        help="keep the clients' and the mock's output here (default: dropped)")
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    max_examples = 3 if options.quick else DEFAULT_MAX_EXAMPLES
    repeat = options.repeat or (1 if options.quick else 2)
    settings = f"max-examples {max_examples}, {repeat} round(s), median reported"
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="verify-speed-") as tmp:
        logs = options.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        document = packaged_document(logs)
        with mock_server(logs / "serve.log") as replay:
            print(f"mock on {replay[0]}", file=sys.stderr, flush=True)
            if options.profile:
                print(profile_capmock(replay[0], max_examples, PROFILE_TOP))
                return 0
            plan = clients(document, max_examples, options.split, options.sandbox)
            results = measure(plan, repeat, replay, logs)
    print(report(results, settings, load_before, max_examples == DEFAULT_MAX_EXAMPLES))
    if options.json:
        options.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], Path(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit(main())

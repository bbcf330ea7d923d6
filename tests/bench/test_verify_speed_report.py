"""The suite-speed benchmark's verdicts (bench/verify_speed.py): the arithmetic
and the target lines it prints, on samples made up here. The benchmark itself
is not a test (minutes of runs); what it concludes from them is."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import verify_speed as bench


def result(name: str, wall_s: float, requests: int, exit_code: int = 0) -> bench.Result:
    sample = bench.Sample(wall_s=wall_s, cpu_s=wall_s * 0.8, server_cpu_s=1.0,
                          requests=requests, tool_count=requests, exit_code=exit_code)
    return bench.Result(name, bench.ALL, f"{name} ...", [sample])


def lines(*results: bench.Result, default_run: bool = True) -> list[str]:
    return bench.report(list(results), "test", "0.00", default_run).splitlines()


def replay_runs(capmock_s: float = 50.0) -> list[bench.Result]:
    return [result("capmock", capmock_s, 12_000), result("st", 40.0, 8_000, exit_code=1),
            result("st-minimal", 36.0, 8_000)]


def test_the_wall_and_throughput_targets_are_judged_on_the_replay_runs() -> None:
    report = lines(*replay_runs(50.0))
    assert "met    capmock verify (full default run) under 60 s: 50.0 s" in report
    # 240 cases/s against st's 200: 1.20
    assert "met    capmock >= 80% of st run's cases/s, full runs (phase mixes differ): 1.20" \
        in report
    assert "MISSED capmock verify (full default run) under 60 s: 61.0 s" in lines(*replay_runs(61))


@pytest.mark.parametrize(("wall_s", "exit_code", "verdict"), [
    (48.9, 0, "met   "), (90.5, 0, "MISSED"), (30.0, 1, "MISSED")])
def test_the_sandbox_run_must_be_under_90_s_and_pass(wall_s: float, exit_code: int,
                                                     verdict: str) -> None:
    report = lines(*replay_runs(), result(bench.SANDBOX, wall_s, 12_800, exit_code))
    assert (f"{verdict} capmock verify against a fresh sandbox under 90 s, exit 0: "
            f"{wall_s:.1f} s, exit {exit_code}") in report
    assert any(line.startswith(f"{bench.SANDBOX:12} all") for line in report)  # in the table
    assert f"sandbox: {exit_code}" in report[-1]


def test_without_the_sandbox_run_there_is_no_sandbox_verdict() -> None:
    assert not [line for line in lines(*replay_runs()) if "sandbox" in line]


def test_a_non_default_run_judges_no_time_target() -> None:
    report = lines(*replay_runs(20.0), result(bench.SANDBOX, 20.0, 4_000), default_run=False)
    assert [line[:6] for line in report if "target is for the default" in line] == ["n/a   "] * 2


def test_the_sandbox_client_gets_its_own_server_url() -> None:
    plan = bench.clients(Path("doc.yaml"), 10, split=False, sandbox=True)
    assert [c.name for c in plan] == [*bench.CLIENTS, bench.SANDBOX]
    sandbox = plan[-1]
    assert sandbox.arguments("http://127.0.0.1:1") == ["verify", "--base-url",
                                                       "http://127.0.0.1:1"]
    assert [c.name for c in bench.clients(Path("doc.yaml"), 10, False, False)] == \
        list(bench.CLIENTS)

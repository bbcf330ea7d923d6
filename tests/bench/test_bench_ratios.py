"""The throughput benchmark's arithmetic: paired ratios and the rotating order.

The benchmark itself is not a test (it takes minutes and needs wrk); what it
reports is only as good as this bookkeeping, which is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import mock_throughput as bench


def run(rate: float) -> bench.WrkResult:
    return bench.WrkResult(requests_per_s=rate, p50_ms=1.0, p99_ms=5.0, requests=int(rate),
                           non_2xx=0, socket_errors=0)


def row(server: str, rates: list[float], conformant: bool = True) -> bench.Row:
    probe = bench.Probe(status=200 if conformant else 400, content_type="application/json",
                        size=10, conformant=conformant, note="")
    return bench.Row(server, "get-json", probe, [run(r) for r in rates])


def test_ratio_pairs_runs_of_the_same_round() -> None:
    # The machine slowed to 60 % between bare Flask's and capmock's runs of
    # round 2 and stayed slow. The ratio of the medians (540 / 1000) would say
    # 54 %; two of three back-to-back pairs say 90 %.
    rows = [row("capmock", [900, 540, 540]), row("bare-flask", [1000, 1000, 600])]
    paired = bench.round_ratios(rows, "get-json", "capmock", "bare-flask")
    assert paired == pytest.approx([0.9, 0.54, 0.9])
    assert bench.ratio(rows, "get-json", "capmock", "bare-flask") == pytest.approx(0.9)


def test_ratio_is_the_median_round_and_the_cell_shows_the_spread() -> None:
    rows = [row("capmock", [700, 900, 1000]), row("bare-flask", [1000, 1000, 1000])]
    assert bench.ratio(rows, "get-json", "capmock", "bare-flask") == pytest.approx(0.9)
    value = bench.ratio(rows, "get-json", "capmock", "bare-flask")
    assert bench.ratio_cell(rows, "get-json", "capmock/bare", value) == "90% (70%-100%)"


def test_no_ratio_against_a_peer_that_did_not_conform() -> None:
    rows = [row("capmock", [900]), row("prism", [300], conformant=False)]
    assert bench.ratio(rows, "get-json", "capmock", "prism") is None
    cell = bench.ratio_cell(rows, "get-json", "capmock/prism", None)
    assert cell == "prism not conformant (status 400)"


def test_each_round_starts_with_the_next_server(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    order: list[tuple[int, str]] = []
    lives = [type("Live", (), {"server": type("S", (), {"name": n})()})()
             for n in ("prism", "bare-flask", "capmock")]

    def fake_load(live, case, plan, work):
        order.append((len(order) // 3, live.server.name))
        return run(100)

    monkeypatch.setattr(bench, "load", fake_load)
    case = bench.all_cases()["get-json"]
    plan = bench.Plan(cases=[case], expected={}, threads=1, connections=1, duration=1,
                      warmup=0, workers=1, rounds=3)
    rows = {(n, case.name): row(n, []) for n in ("prism", "bare-flask", "capmock")}
    bench.measure_all(lives, plan, tmp_path, rows)  # type: ignore[arg-type]
    firsts = [name for i, (_round, name) in enumerate(order) if i % 3 == 0]
    assert firsts == ["prism", "bare-flask", "capmock"]
    assert all(len(r.runs) == 3 for r in rows.values())


def test_the_baseline_is_another_install_served_like_capmock(tmp_path: Path) -> None:
    other = tmp_path / "capmock"
    other.write_text("#!/bin/sh\n", "utf-8")
    other.chmod(0o755)
    args = bench.parse_args(["--servers", "capmock", "--baseline", str(other)])
    assert args.servers == ["capmock", "baseline"]
    server = bench.make_server("baseline", 8123, 2, {}, None, args.baseline)
    assert server is not None
    assert server.command == [str(other), "serve", "--host", "127.0.0.1", "--port", "8123",
                              "--workers", "2", "--no-access-log"]
    assert bench.make_server("baseline", 8123, 2, {}, None, None) is None


def test_a_baseline_that_is_not_an_executable_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--baseline", str(tmp_path / "missing")])
    assert exit_info.value.code == 2


def test_the_baseline_target_holds_within_five_percent_only() -> None:
    case = bench.all_cases()["get-json"]
    rows = [row("capmock", [980, 960]), row("baseline", [1000, 1000])]
    found = {t.name: t for t in bench.targets(rows, [case], 32)}
    target = next(t for name, t in found.items() if "baseline" in name)
    assert target.holds is True and target.detail == "lowest 97% on get-json"
    rows = [row("capmock", [930, 930]), row("baseline", [1000, 1000])]
    target = next(t for t in bench.targets(rows, [case], 32) if "baseline" in t.name)
    assert target.holds is False

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

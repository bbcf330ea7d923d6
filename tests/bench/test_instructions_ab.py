"""bench/instructions_ab.py's bookkeeping: callgrind's totals read, start-up cancelled."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import instructions_ab as ab
import mock_throughput as bench


def test_the_totals_line_of_a_callgrind_file_is_read() -> None:
    text = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 1234567\n"
    found = ab.TOTALS.search(text)
    assert found is not None and int(found.group(1)) == 1234567


def test_per_request_is_the_difference_of_two_runs(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    startup, each = 9_000_000, 450
    monkeypatch.setattr(ab, "instructions", lambda _py, _case, n, _work: startup + each * n)
    case = bench.all_cases()["get-json"]
    assert ab.per_request("python", case, 200, 1200, tmp_path) == each


def test_usage_mistakes_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as missing:
        ab.main(["--baseline", str(tmp_path / "nothing")])
    assert missing.value.code == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "python").write_text("")
    with pytest.raises(SystemExit) as order:
        ab.main(["--baseline", str(tmp_path / "python"), "--n1", "5", "--n2", "5"])
    assert order.value.code == 2
    assert "--n2 must be larger" in capsys.readouterr().err

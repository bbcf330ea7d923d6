"""The connections benchmark's bookkeeping: who was served, gaps, censored waits.

The benchmark itself is not a test (it takes minutes); its verdict on
starvation is only as good as this arithmetic, which is.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import connections as bench


def test_a_connection_never_answered_counts_as_not_served_and_waited_the_whole_run() -> None:
    served = bench.Conn(answers=[0.1, 0.2, 0.9], latencies_ms=[100.0, 100.0, 700.0])
    starved = bench.Conn(waiting_since=0.0)  # sent its first request at the start, no answer
    result = bench.summarise([served, starved], seconds=2.0, cpu=0.5)
    assert (result.connections, result.served) == (2, 1)
    assert result.first_answer_max_s is None  # someone never got a first answer
    assert result.longest_gap_s == 2.0  # the starved one: the whole run
    assert result.answers_per_s == 1.5
    assert result.p99_ms == 2000.0  # its censored wait is in the latencies


def test_the_longest_gap_includes_the_wait_before_the_first_answer_and_after_the_last() -> None:
    late = bench.Conn(answers=[1.5, 1.6], latencies_ms=[1500.0, 100.0])
    stalled = bench.Conn(answers=[0.1], latencies_ms=[100.0], waiting_since=0.1)
    result = bench.summarise([late, stalled], seconds=3.0, cpu=0.0)
    assert result.served == 2
    assert result.first_answer_max_s == 1.5
    assert result.longest_gap_s == 3.0 - 0.1  # stalled from its answer to the end


def test_requests_carry_host_headers_and_body_length() -> None:
    case = bench.bench.all_cases()["add-json"]
    raw = bench.request_bytes(case)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1.1/customer/add?format=json HTTP/1.1\r\nHost: ")
    assert f"Content-Length: {len(case.body)}".encode() in head
    assert body == case.body

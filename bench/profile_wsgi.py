"""Where capmock's time goes per request, without a server or a network.

Calls the WSGI apps directly in a loop with one fixed request (a case of
mock_throughput.py): capmock's app and bench/bare_flask.py's app answering the
same bytes, and prints microseconds per request for each; then profiles
capmock's app with cProfile and lists the functions by cumulative time per
request (cProfile's own overhead inflates these, so read them as shares).

    python bench/profile_wsgi.py --case add-xml --journal sqlite

--journal sqlite is what `capmock serve --workers 2` (or more) uses: a SQLite
file shared by the workers; memory is what one worker uses.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bare_flask
import mock_throughput as bench

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ_for(case: bench.Case) -> dict[str, Any]:
    return EnvironBuilder(path=case.path, query_string=case.query, method=case.method,
                          headers=case.headers, data=case.body or None).get_environ()


def call(app: WSGIApp, environ: dict[str, Any], body: bytes) -> str:
    """One request through the app, the body drained as a server would; the status line."""
    statuses: list[str] = []

    def start_response(status: str, _headers: list[Any], _exc: Any = None) -> None:
        statuses.append(status)

    result = app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
    for _chunk in result:
        pass
    if hasattr(result, "close"):
        result.close()
    return statuses[0]


def per_request_us(app: WSGIApp, environ: dict[str, Any], body: bytes, n: int) -> float:
    call(app, environ, body)
    started = time.perf_counter()
    for _ in range(n):
        call(app, environ, body)
    return (time.perf_counter() - started) / n * 1e6


def bare_app(case: bench.Case, expected: bench.Expected, work: Path) -> WSGIApp:
    table = work / "responses.json"
    key = bare_flask.request_key(case.method, case.path, case.query)
    table.write_text(json.dumps({key: {
        "status": expected.status, "content_type": expected.content_type,
        "body_b64": base64.b64encode(expected.body).decode()}}), "utf-8")
    return bare_flask.create_app(str(table))


def profile_rows(app: WSGIApp, environ: dict[str, Any], body: bytes,
                 n: int) -> list[tuple[float, float, float, str]]:
    """(cumulative us, own us, calls) per request and the function, most expensive first."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call(app, environ, body)
    profiler.disable()
    rows = []
    for (file, line, name), (_cc, calls, own, cumulative, _callers) in \
            pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        where = file.split("site-packages/")[-1].replace(str(bench.REPO) + "/", "")
        rows.append((cumulative / n * 1e6, own / n * 1e6, calls / n, f"{where}:{line}({name})"))
    return sorted(rows, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=list(bench.all_cases()), default="get-json")
    parser.add_argument("--journal", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    case = bench.all_cases()[args.case]
    expected = bench.expected_answer(case)
    environ = environ_for(case)
    with tempfile.TemporaryDirectory(prefix="capmock-profile-") as tmp:
        journal = str(Path(tmp) / "journal.sqlite") if args.journal == "sqlite" else None
        capmock = create_app(Settings(journal_path=journal))
        bare = bare_app(case, expected, Path(tmp))
        print(f"{case.name}: {case.method} {case.target}, journal {args.journal}, "
              f"status {call(capmock, environ, case.body)}")
        mine = per_request_us(capmock, environ, case.body, args.requests)
        floor = per_request_us(bare, environ, case.body, args.requests)
        print(f"  capmock {mine:7.1f} us/request\n  bare    {floor:7.1f} us/request\n"
              f"  capmock's own work: {mine - floor:.1f} us/request")
        print("\ncProfile, capmock, per request: cumulative us, own us, calls, function")
        for cumulative, own, calls, where in profile_rows(capmock, environ, case.body,
                                                          args.requests)[: args.top]:
            print(f"  {cumulative:8.1f} {own:7.1f} {calls:5.1f}  {where}")


if __name__ == "__main__":
    main()

"""CPU instructions per replayed request: this checkout against another install.

Wall-clock A/B runs on these shared 2-core machines swing +-20 % from round to
round (bench/mock_throughput.py --baseline), more than the 5 % a change may
cost. Instruction counts do not: each install's WSGI app is called in a loop,
in process, under valgrind's callgrind (no PMU here, so no `perf stat`), once
with N1 and once with N2 requests; (Ir(N2) - Ir(N1)) / (N2 - N1) is the
instructions one request costs, start-up and warm-up cancelled out. The app
is made by `wsgi.serve_app`, as each worker of `capmock serve` makes it
(created, collected, frozen), garbage collection on. What it
leaves out: the server (granian) and the network, the same for both, and cache
and branch effects, which callgrind does not simulate here.

    .venv/bin/python bench/instructions_ab.py --baseline /tmp/old/.venv/bin/python

--baseline is the Python of another install (a previous release's venv). Needs
valgrind (`apt-get install -y valgrind`). Takes ~1-2 min per install and case.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mock_throughput as bench

DRIVER = r"""
import io, json, os, sys
from werkzeug.test import EnvironBuilder
from capmock.mockserver.wsgi import serve_app

case, n = json.loads(sys.argv[1]), int(sys.argv[2])
body = bytes.fromhex(case["body"])
environ = EnvironBuilder(path=case["path"], query_string=case["query"], method=case["method"],
                         headers=case["headers"], data=body or None).get_environ()
os.environ.pop("CAPMOCK_SETTINGS", None)  # the default settings
app = serve_app()  # made as each worker of capmock serve makes it (created, frozen)
statuses = []

def start_response(status, headers, exc=None):
    statuses.append(status)

for _ in range(n + 1):  # one more: the first answer fills the replay cache
    result = app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
    for _chunk in result:
        pass
    result.close()
assert all(s == statuses[0] for s in statuses), set(statuses)
print(statuses[0])
"""
TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.M)


def instructions(python: str, case: bench.Case, n: int, work: Path) -> int:
    """Instructions (callgrind's Ir) of one driver run of n requests."""
    out = work / f"callgrind-{abs(hash((python, case.name, n)))}.out"
    spec = json.dumps({"path": case.path, "query": case.query, "method": case.method,
                       "headers": case.headers, "body": case.body.hex()})
    driver = work / "driver.py"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                    python, str(driver), spec, str(n)],
                   check=True, capture_output=True, timeout=1800, cwd=work)
    found = TOTALS.search(out.read_text("utf-8", "replace"))
    if found is None:
        raise RuntimeError(f"no totals in {out}")
    return int(found.group(1))


def per_request(python: str, case: bench.Case, n1: int, n2: int, work: Path) -> float:
    return (instructions(python, case, n2, work) - instructions(python, case, n1, work)) / (n2 - n1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, metavar="PYTHON",
                        help="the Python of another install (its venv's bin/python)")
    parser.add_argument("--cases", nargs="+", choices=list(bench.all_cases()),
                        default=list(bench.all_cases()))
    parser.add_argument("--n1", type=int, default=200, help="requests of the short run (200)")
    parser.add_argument("--n2", type=int, default=1200, help="requests of the long run (1200)")
    args = parser.parse_args(argv)
    if not Path(args.baseline).is_file():
        parser.error(f"--baseline {args.baseline}: no such file")
    if args.n2 <= args.n1:
        parser.error("--n2 must be larger than --n1")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed: apt-get install -y valgrind")
    # absolute, not resolved: a venv's python is a symlink to the base interpreter
    installs = {"capmock": sys.executable, "baseline": str(Path.cwd() / args.baseline)}
    cases = [bench.all_cases()[name] for name in args.cases]
    with tempfile.TemporaryDirectory(prefix="capmock-ir-") as tmp:
        work = Path(tmp)
        (work / "driver.py").write_text(DRIVER, "utf-8")
        jobs = {(who, case.name): (python, case) for case in cases
                for who, python in installs.items()}
        with ThreadPoolExecutor(max_workers=2) as pool:  # one valgrind per core
            futures = {key: pool.submit(per_request, python, case, args.n1, args.n2, work)
                       for key, (python, case) in jobs.items()}
            counts = {key: future.result() for key, future in futures.items()}
    print(f"instructions per replayed request (callgrind Ir, ({args.n2} - {args.n1}) requests)")
    print(f"  {'case':<9} {'capmock':>12} {'baseline':>12} {'capmock/baseline':>17}")
    for case in cases:
        mine, theirs = counts[("capmock", case.name)], counts[("baseline", case.name)]
        print(f"  {case.name:<9} {mine:>12,.0f} {theirs:>12,.0f} {mine / theirs:>16.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A bare Flask app answering precomputed bytes: the floor for `capmock serve`.

It does what any Flask app on granian must do per request (route, read the
body, build a Response) and nothing else: the bytes, status and Content-Type
of each answer are computed before the server starts and looked up by
"METHOD /path?query". mock_throughput.py compares capmock with it to measure
what capmock's own work costs.

The table is a JSON file named by the environment variable BARE_FLASK_RESPONSES:

    {"GET /v1.1/customer/get?mobile=1": {"status": 200,
      "content_type": "application/json; charset=utf-8", "body_b64": "..."}}

Run it on granian the way `capmock serve` runs capmock:

    python bench/bare_flask.py --responses table.json --port 8081 --workers 2
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, request

ENV = "BARE_FLASK_RESPONSES"
METHODS = ["GET", "POST"]


@dataclass(frozen=True)
class Canned:
    status: int
    content_type: str
    body: bytes


def request_key(method: str, path: str, query_string: str) -> str:
    """The table's key: "GET /v1.1/customer/get?mobile=1" (no '?' without a query)."""
    return f"{method} {path}?{query_string}" if query_string else f"{method} {path}"


def load_table(path: str | os.PathLike[str]) -> dict[str, Canned]:
    raw = json.loads(Path(path).read_text("utf-8"))
    return {key: Canned(int(entry["status"]), entry["content_type"],
                        base64.b64decode(entry["body_b64"]))
            for key, entry in raw.items()}


def create_app(table_path: str | None = None) -> Flask:
    """The WSGI app; the table comes from table_path or from $BARE_FLASK_RESPONSES."""
    path = table_path or os.environ.get(ENV)
    if not path:
        raise RuntimeError(f"set {ENV} to a JSON file of canned responses")
    table = load_table(path)
    app = Flask(__name__)

    def view(path: str = "") -> Response:
        request.get_data(cache=False)  # drain the body, as capmock does
        key = request_key(request.method, request.path,
                          request.query_string.decode("latin-1"))
        canned = table.get(key)
        if canned is None:
            return Response(b"not in the table\n", status=404, content_type="text/plain")
        return Response(canned.body, status=canned.status, content_type=canned.content_type)

    app.add_url_rule("/<path:path>", "canned", view, methods=METHODS)
    return app


def serve(responses: Path, host: str, port: int, workers: int,
          idle_timeout: float | None = None) -> None:
    """granian exactly as `capmock serve` runs it: the same launch
    (capmock.openapi.serving: connections, idle time-out, HTTP/1, respawn) and
    the same threads per worker, with its defaults."""
    from capmock.mockserver.serve import THREADS
    from capmock.openapi.serving import IDLE_TIMEOUT_S, prepare
    from capmock.openapi.serving import serve as serve_on_granian

    os.environ[ENV] = str(responses.resolve())
    serving = prepare(host, port, idle_timeout or IDLE_TIMEOUT_S)
    serve_on_granian("bare_flask:create_app", serving, workers, THREADS,
                     log_access=False, working_dir=Path(__file__).resolve().parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=Path, required=True, help="JSON table of answers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--idle-timeout", type=float, help="as capmock serve's (30)")
    args = parser.parse_args()
    serve(args.responses, args.host, args.port, args.workers, args.idle_timeout)


if __name__ == "__main__":
    main()

"""`capmock proxy`: the validation proxy (mockserver/proxy/server.py) on granian.

Served as `capmock serve` serves the mock: granian's worker processes build the
app with `served_app`, which reads the settings that the command put in
CAPMOCK_PROXY_SETTINGS. Each worker keeps its own list of recent violations.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import click
from flask import Flask

from capmock.mockserver.proxy.mask import new_key
from capmock.mockserver.proxy.record import INTERVAL_S, directory_problem, record_path_problem
from capmock.mockserver.proxy.server import LOG, create_app
from capmock.openapi import wire as wires
from capmock.openapi.contract import PROFILES
from capmock.openapi.serving import CliError, Serving, connection_options, prepare, serve

ENV = "CAPMOCK_PROXY_SETTINGS"
THREADS = 32  # per worker: each waits on the upstream while it forwards (proxy.POOL_SIZE)
ACCESS_FORMAT = ('[%(time)s] %(addr)s "%(method)s %(path)s" %(query_string)s '
                 "%(status)d %(dt_ms).3fms")
LOG_FORMAT = "[%(asctime)s] %(name)s %(levelname)s %(message)s"


def served_app() -> Flask:
    """The app of one granian worker, from CAPMOCK_PROXY_SETTINGS; logs to stderr."""
    settings: dict[str, Any] = json.loads(os.environ[ENV])
    if not LOG.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)
    return create_app(**settings)


def check_upstream(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """The upstream must be an http(s) URL."""
    if not value.startswith(("http://", "https://")):
        raise click.BadParameter("expected an http:// or https:// URL")
    return value


def run_granian(settings: dict[str, Any], serving: Serving, workers: int) -> None:
    """The proxy on granian, with the connection policy of openapi/serving.py."""
    os.environ[ENV] = json.dumps(settings)
    serve("capmock.mockserver.proxy.cli:served_app", serving, workers, THREADS,
          log_access=True, log_access_format=ACCESS_FORMAT)


def recording(record: Path | None, examples: Path | None, mask: bool, mask_seed: str | None,
              interval: float, workers: int) -> dict[str, Any]:
    """The recorder's settings, once everything that can refuse them has been checked."""
    if record is None:
        given = [name for name, value in (("--record-examples", examples), ("--mask", mask),
                                          ("--mask-seed", mask_seed)) if value]
        if given:
            raise CliError(f"{given[0]} needs --record FILE")
        return {}
    if workers != 1:
        raise CliError("--record needs --workers 1 (one process keeps the recording)")
    problem = record_path_problem(record)
    if problem is None and examples is not None:
        problem = (directory_problem(examples, "--record-examples") if examples.exists()
                   else directory_problem(examples.parent, "the parent of --record-examples"))
    if problem is not None:
        raise CliError(f"--record: {problem}")
    return {"record": str(record.absolute()),
            "record_examples": str(examples.absolute()) if examples else None,
            "mask": mask, "mask_seed": new_key(mask_seed) if mask else None,
            "record_interval": interval}


@click.command("proxy")
@click.option("--upstream", required=True, callback=check_upstream, metavar="URL",
              help="The server to forward to, e.g. http://127.0.0.1:8080.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535))
@click.option("--profile", type=click.Choice(PROFILES), default="lenient", show_default=True,
              help="strict: every undocumented field or element is a violation.")
@click.option("--wire", type=click.Choice(wires.wires()), default="platform", show_default=True,
              help="Under --profile strict, the JSON form answers are judged against: platform "
                   "(as live clusters send it) or document (the samples as documented).")
@click.option("--fail", is_flag=True,
              help="Answer a request with violations with a 502 envelope instead.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--record", type=click.Path(path_type=Path), metavar="FILE",
              help="Write the customers and history the answers show to FILE, a sandbox "
                   "file for `capmock seed` (replaced; rewritten as traffic passes).")
@click.option("--record-examples", type=click.Path(path_type=Path), metavar="DIR",
              help="With --record: also write the last answer of each operation, format "
                   "and outcome as named examples under DIR (fixtures/samples/ layout).")
@click.option("--mask", is_flag=True,
              help="With --record: mask identifiers (mobile, email, external_id, user_id) "
                   "and names, the same value always the same way.")
@click.option("--mask-seed", metavar="TEXT",
              help="The key of --mask: two recordings with one seed mask alike "
                   "(default: random per run).")
@click.option("--record-interval", default=INTERVAL_S, show_default=True,
              type=click.FloatRange(0.1, 3600), metavar="SECONDS",
              help="How often --record rewrites its files when something changed.")
@connection_options
def command(upstream: str, host: str, port: int, profile: str, wire: str, fail: bool,
            workers: int, record: Path | None, record_examples: Path | None, mask: bool,
            mask_seed: str | None, record_interval: float, idle_timeout: float,
            max_connections: int | None) -> None:
    """Forward to UPSTREAM and check every request and response against the contract."""
    recorder = recording(record, record_examples, mask, mask_seed, record_interval, workers)
    serving = prepare(host, port, idle_timeout, max_connections)
    port = serving.port
    click.echo(f"capmock proxy on http://{host}:{port}/ -> {upstream} ({profile}, {wire}"
               f"{', --fail' if fail else ''}; violations: "
               f"http://{host}:{port}/__capmock/violations)", err=True)
    if recorder:
        click.echo(f"recording to {recorder['record']}"
                   f"{', examples in ' + recorder['record_examples'] if record_examples else ''}"
                   f"{', masked' if mask else ''}", err=True)
    run_granian({"upstream": upstream, "profile": profile, "wire": wire, "fail": fail,
                 **recorder},
                serving, workers)

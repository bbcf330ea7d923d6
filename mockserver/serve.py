"""`capmock serve`: the mock server on a production WSGI server.

Granian (Rust, multi-process) serves the Flask app: on this project's 2-core
machines a bare Flask app does ~18,000 requests/s on it against ~5,000 on
gunicorn's sync workers (issue 3), and it starts in well under a second,
and stops cleanly on SIGTERM. The access log is capmock's own (accesslog.py):
granian's goes through Python's logging at ~50-60 us a line.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from capmock.mockserver.faults import check_kinds
from capmock.mockserver.journal import prepare as prepare_journal
from capmock.mockserver.settings import ENV, FORMATS, STATUS_POLICIES, WIRES, Settings
from capmock.mockserver.wiring import sandbox_options, sandbox_settings
from capmock.openapi.serving import Serving, connection_options, prepare, serve

DEFAULTS = Settings()


def check_hosts(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and any(not name.strip() or " " in name.strip() or "/" in name
                                 for name in value.split(",")):
        raise click.BadParameter("expected host names separated by commas, or '*'")
    return value


def fault_kinds(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        check_kinds(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


# Python threads per worker. Few, because the GIL runs one at a time anyway and
# granian queues the rest in Rust: 32 threads tripled the p99 latency on 2 cores.
# A client that injects latency (Prefer: delay) into many concurrent requests
# needs more: each delayed request holds a thread while it sleeps (--threads).
THREADS = 4


def check_auth(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (":" not in value or not value.split(":", 1)[0]):
        raise click.BadParameter("expected TILL:PASSWORD, e.g. till1:123")
    return value


def run_granian(settings: Settings, serving: Serving, workers: int,
                threads: int = THREADS) -> None:
    """The mock on granian, with the connection policy of openapi/serving.py."""
    os.environ[ENV] = settings.to_env()
    serve("capmock.mockserver.wsgi:serve_app", serving, workers, threads, log_access=False)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--mode", type=click.Choice(["replay", "sandbox"]), default="replay",
              show_default=True, help="replay: answer with the documented samples and codes; "
              "sandbox: a stateful customer service following the document's rules.")
@click.option("--auth", callback=check_auth, metavar="TILL:PASSWORD",
              help="Require HTTP Basic with this till and password (md5, as the platform).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--threads", default=THREADS, show_default=True, type=click.IntRange(1, 512),
              help="Threads per worker; raise it to inject latency into many requests.")
@click.option("--http-status", type=click.Choice(STATUS_POLICIES), default=DEFAULTS.http_status,
              show_default=True, help="platform: HTTP 200 for item-level outcomes (codes 200, "
              "201, 500), the code for request-level errors; mirror: HTTP status = "
              "response.status.code; always-200.")
@click.option("--wire", type=click.Choice(WIRES), default=DEFAULTS.wire, show_default=True,
              help="JSON wire form. platform: as live clusters send it (numeric status.code, "
              "every repeated element an array); document: the samples as documented.")
@click.option("--batch-limit", default=100, show_default=True, type=click.IntRange(1),
              help="Items or identifiers per request before error 1060.")
@click.option("--default-format", type=click.Choice(FORMATS), default="json",
              show_default=True, help="Format when neither format= nor Accept says.")
@click.option("--cors/--no-cors", default=True, show_default=True,
              help="Answer CORS preflights and allow browser clients.")
@click.option("--delay", "delay_ms", default=0, show_default=True, type=click.IntRange(0, 60000),
              help="Latency added to every answer, in milliseconds.")
@click.option("--journal/--no-journal", "record", default=True, show_default=True,
              help="Record requests for /__capmock/journal (shared by workers via SQLite).")
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="One log line per request.")
@connection_options
@click.option("--admin-auth", callback=check_auth, metavar="TILL:PASSWORD",
              help="Credentials for /__capmock/ (default: those of --auth).")
@click.option("--allowed-hosts", callback=check_hosts, metavar="HOST,...",
              help="Host header names accepted besides the bound address ('*': any).")
@click.option("--journal-size", default=DEFAULTS.journal_size, show_default=True,
              type=click.IntRange(0), help="Requests the journal keeps (0: none).")
@click.option("--journal-bytes", default=DEFAULTS.journal_bytes, show_default=True,
              type=click.IntRange(65_536), help="Bytes the journal keeps, per worker.")
@click.option("--journal-body-bytes", default=DEFAULTS.journal_body_bytes, show_default=True,
              type=click.IntRange(0), help="Bytes of each request body the journal keeps.")
@click.option("--import-limit", "import_limit_mib", default=64, show_default=True,
              type=click.IntRange(1, 4096), metavar="MIB",
              help="Largest body /__capmock/sandbox/import and load take, in MiB.")
@click.option("--fault-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of API requests answered with an injected fault (faults.yaml).")
@click.option("--fault-seed", default=0, show_default=True, type=int,
              help="Seed of the faults drawn by --fault-rate (same seed, same requests).")
@click.option("--fault-kinds", default="", metavar="NAME,...", callback=fault_kinds,
              help="Faults --fault-rate draws among (default: all: reset, empty, "
                   "truncated, slow, garbage).")
@sandbox_options
def command(host: str, port: int, mode: str, auth: str | None, workers: int, threads: int,
            http_status: str, wire: str,
            batch_limit: int, default_format: str, cors: bool, delay_ms: int,
            record: bool, access_log: bool, admin_auth: str | None, allowed_hosts: str | None,
            journal_size: int, journal_bytes: int, journal_body_bytes: int,
            import_limit_mib: int, idle_timeout: float, max_connections: int | None,
            fault_rate: float, fault_seed: int, fault_kinds: str,
            **sandbox: object) -> None:
    """Serve the mock of the customer API (JSON and XML)."""
    serving = prepare(host, port, idle_timeout, max_connections)
    port = serving.port
    with tempfile.TemporaryDirectory(prefix="capmock-") as tmp:
        record = record and journal_size > 0
        journal = str(Path(tmp) / "journal.sqlite") if workers > 1 and record else None
        if journal:
            prepare_journal(journal)
        settings = Settings(mode=mode, auth=auth, http_status=http_status, wire=wire,
                            batch_limit=batch_limit, default_format=default_format, cors=cors,
                            delay_ms=delay_ms, journal_path=journal,
                            journal_size=journal_size if record else 0, access_log=access_log,
                            admin_auth=admin_auth, bound_host=host, allowed_hosts=allowed_hosts,
                            journal_bytes=journal_bytes, journal_body_bytes=journal_body_bytes,
                            import_limit=import_limit_mib * 1_048_576,
                            fault_rate=fault_rate, fault_seed=fault_seed, fault_kinds=fault_kinds,
                            **sandbox_settings(mode, workers, sandbox))
        click.echo(f"capmock {mode} mock on http://{host}:{port}/v1.1/customer/ "
                   f"(reference: http://{host}:{port}/__capmock/docs)", err=True)
        run_granian(settings, serving, workers, threads)

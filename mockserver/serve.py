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

from capmock.mockserver.journal import prepare as prepare_journal
from capmock.mockserver.sandbox.options import sandbox_options, sandbox_settings
from capmock.mockserver.settings import ENV, FORMATS, STATUS_POLICIES, Settings

# Python threads per worker. Few, because the GIL runs one at a time anyway and
# granian queues the rest in Rust: 32 threads tripled the p99 latency on 2 cores.
# A client that injects latency (Prefer: delay) into many concurrent requests
# needs more: each delayed request holds a thread while it sleeps (--threads).
THREADS = 4


def check_auth(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and (":" not in value or not value.split(":", 1)[0]):
        raise click.BadParameter("expected TILL:PASSWORD, e.g. till1:123")
    return value


def run_granian(settings: Settings, host: str, port: int, workers: int,
                threads: int = THREADS) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[ENV] = settings.to_env()
    Granian(
        "capmock.mockserver.wsgi:serve_app", factory=True, interface=Interfaces.WSGI,
        address=host, port=port, workers=workers, blocking_threads=threads,
        backpressure=threads, log_access=False, workers_kill_timeout=5,
    ).serve()


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
@click.option("--http-status", type=click.Choice(STATUS_POLICIES), default="mirror",
              show_default=True, help="mirror: HTTP status = response.status.code.")
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
@click.option("--import-limit", "import_limit_mib", default=64, show_default=True,
              type=click.IntRange(1, 4096), metavar="MIB",
              help="Largest body /__capmock/sandbox/import and load take, in MiB.")
@sandbox_options
def command(host: str, port: int, mode: str, auth: str | None, workers: int, threads: int,
            http_status: str,
            batch_limit: int, default_format: str, cors: bool, delay_ms: int,
            record: bool, access_log: bool, import_limit_mib: int,
            **sandbox: object) -> None:
    """Serve the mock of the customer API (JSON and XML)."""
    with tempfile.TemporaryDirectory(prefix="capmock-") as tmp:
        journal = str(Path(tmp) / "journal.sqlite") if workers > 1 and record else None
        if journal:
            prepare_journal(journal)
        settings = Settings(mode=mode, auth=auth, http_status=http_status,
                            batch_limit=batch_limit, default_format=default_format, cors=cors,
                            delay_ms=delay_ms, journal_path=journal,
                            journal_size=1000 if record else 0, access_log=access_log,
                            import_limit=import_limit_mib * 1_048_576,
                            **sandbox_settings(mode, workers, sandbox))
        click.echo(f"capmock {mode} mock on http://{host}:{port}/v1.1/customer/ "
                   f"(reference: http://{host}:{port}/__capmock/docs)", err=True)
        run_granian(settings, host, port, workers, threads)

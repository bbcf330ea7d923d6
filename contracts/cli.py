"""`capmock verify`: run the conformance suite against a server.

Exit codes: 0 conformant, 1 at least one violation, 2 usage or connection
error. Everything that can be told before the run is checked first, each
with one line on stderr and exit 2, never a traceback: the arguments (click),
every output path (opened for writing, so a missing folder or a read-only
file system shows now, not after the run), the base URL (it must answer
HTTP, and answer at least one operation of the API: a server root that says
404 to customer/get is the wrong base URL) and the suite's own dependencies.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from capmock.contracts import options as run_options

USAGE_ERROR = 2
NO_OPERATION = (404, 405)  # "Incorrect resource" / "Incorrect HTTP Method": not the API
PROBE_PATH = "/v1.1/customer/get"


def csv_choice(choices: tuple[str, ...] | Callable[[], tuple[str, ...]]) -> click.ParamType:
    """Comma-separated values from `choices` (a callable is asked only when used)."""
    class CsvChoice(click.ParamType):
        name = ",".join(choices) if isinstance(choices, tuple) and len(choices) < 8 \
            else "NAME,..."

        def convert(self, value: object, param: object, ctx: object) -> tuple[str, ...]:
            if isinstance(value, tuple):
                return value
            allowed = choices if isinstance(choices, tuple) else choices()
            items = tuple(v.strip() for v in str(value).split(",") if v.strip())
            unknown = [v for v in items if v not in allowed]
            if unknown or not items:
                self.fail(f"{', '.join(unknown) or 'nothing'}: choose from {', '.join(allowed)}")
            return items
    return CsvChoice()


def operation_ids() -> tuple[str, ...]:
    from capmock.openapi import contract

    return tuple(contract.operations())


def usage_error(message: str) -> None:
    click.echo(f"capmock verify: {message}", err=True)
    sys.exit(USAGE_ERROR)


def load_suite() -> tuple[Any, Any]:
    """The runner and the reports (schemathesis and the contract): a missing
    dependency is a one-line usage error naming it."""
    try:
        from capmock.contracts import report, runner
    except ImportError as error:
        usage_error(f"the conformance suite cannot load ({error}); reinstall capmock "
                    "(pip install capmock) so that its dependencies are present")
    return runner, report


def writable(path: Path | None, option: str) -> None:
    """Open the output file for appending now, so a path that cannot be written
    stops the command before the run; a file created here is removed again."""
    if path is None:
        return
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as error:
        usage_error(f"{option} {path}: cannot write there ({error.strerror or error})")
    if not existed:
        path.unlink()


def base_url_problem(base_url: str, timeout: float) -> str | None:
    """None if the base URL answers an operation of the API, else what is wrong."""
    import requests

    if not base_url.startswith(("http://", "https://")):
        return f"--base-url {base_url!r}: expected an http:// or https:// URL"
    url = base_url.rstrip("/") + PROBE_PATH
    try:
        answer = requests.get(url, params={"format": "json"}, timeout=timeout)
    except requests.Timeout:
        return f"cannot reach {base_url}: GET {PROBE_PATH} got no answer within {timeout:g} s"
    except (requests.RequestException, ValueError) as error:
        found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
        return f"cannot reach {base_url}: {found.group(1) if found else error}"
    if answer.status_code in NO_OPERATION:
        return (f"{base_url} answers no operation of the API: GET {PROBE_PATH} got HTTP "
                f"{answer.status_code}; the base URL is the server's root, without "
                "/v1.1/customer")
    return None


def check_auth(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and ":" not in value:
        raise click.BadParameter("expected TILL:PASSWORD")
    return value


# --- progress ----------------------------------------------------------------------

def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def describe(update: Any) -> str:
    """`[json coverage 12/152] GET /v1.1/customer/get: 840 cases, 0:21 elapsed, ~0:45 left`."""
    failing = f", {update.failures} failing cell(s)" if update.failures else ""
    return (f"[{update.fmt} {update.phase} {update.done}/{update.total}] {update.operation}: "
            f"{update.cases} cases, {clock(update.elapsed_s)} elapsed, "
            f"~{clock(update.left_s)} left{failing}")


class Display:
    """A live status line on a terminal (rich), one line per finished unit elsewhere."""

    def __init__(self) -> None:
        self.live: Any = None
        self.last_done = -1
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live("", console=Console(stderr=True), refresh_per_second=4,
                             transient=True)
            self.live.start()

    def __call__(self, update: Any) -> None:
        if isinstance(update, str):
            self.line(update)
        elif self.live is not None:
            from rich.text import Text

            self.live.update(Text(describe(update)))  # plain text: "[json ...]" is no markup
        elif update.done != self.last_done:
            self.last_done = update.done
            self.line(describe(update))

    def line(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, markup=False, highlight=False)
        else:
            click.echo(f"  {text}", err=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


# --- the command ---------------------------------------------------------------------

def finish(report: Any, matrix: Any, outputs: dict[str, Path | None]) -> int:
    click.echo(report.text_matrix(matrix))
    for line in report.skip_lines(matrix):
        click.echo(f"judged nothing: {line}")
    for line in report.failure_lines(matrix):
        click.echo(line)
    for error in matrix.errors:
        click.echo(f"error: {error}", err=True)
    writers: dict[str, Callable[..., None]] = {
        "--junit-xml": report.write_junit, "--json-report": report.write_json,
        "--report": lambda m, p: report.write_html(m, p, "capmock verify")}
    for option, path in outputs.items():
        if path is None:
            continue
        try:
            writers[option](matrix, path)
        except OSError as error:
            usage_error(f"{option} {path}: cannot write there ({error.strerror or error})")
    return 1 if matrix.failed or matrix.errors else 0


@click.command("verify")
@click.option("--base-url", required=True, help="The server under test, e.g. http://127.0.0.1:8080")
@click.option("--auth", metavar="TILL:PASSWORD", callback=check_auth,
              help="HTTP Basic as the platform expects it.")
@click.option("--formats", type=csv_choice(run_options.FORMATS), default="json,xml",
              show_default=True, help="Formats to verify, in this order.")
@click.option("--profile", type=click.Choice(run_options.PROFILES), default="lenient",
              show_default=True, help="strict: undocumented fields are violations.")
@click.option("--phases", type=csv_choice(run_options.PHASES),
              default=",".join(run_options.PHASES), show_default=True)
@click.option("--operations", type=csv_choice(operation_ids), default=None,
              help="Comma-separated operationIds (default: all the contract's).")
@click.option("--checks", "checks", type=csv_choice(run_options.CHECKS), default=None,
              help="Run only these checks (default: all).")
@click.option("--max-examples", default=10, show_default=True, type=click.IntRange(1))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same requests.")
@click.option("--http-status", type=click.Choice(run_options.HTTP_STATUS), default="mirror",
              show_default=True, help="The status-line policy the server follows.")
@click.option("--request-timeout", default=10.0, show_default=True,
              type=click.FloatRange(0.1, 600), help="Seconds to wait for each answer.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failure.")
@click.option("--show-secrets", is_flag=True,
              help="Curl lines carry the real Authorization header.")
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JUnit XML report here.")
@click.option("--json-report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON report here.")
@click.option("--report", "html_report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report here.")
def command(base_url: str, auth: str | None, formats: tuple[str, ...], profile: str,
            phases: tuple[str, ...], operations: tuple[str, ...] | None,
            checks: tuple[str, ...] | None, max_examples: int, workers: int, seed: int,
            http_status: str, request_timeout: float, fail_fast: bool, show_secrets: bool,
            junit_xml: Path | None, json_report: Path | None,
            html_report: Path | None) -> None:
    """Verify a server against the customer API contract, in JSON and XML."""
    outputs = {"--junit-xml": junit_xml, "--json-report": json_report, "--report": html_report}
    for option, path in outputs.items():
        writable(path, option)
    runner, report = load_suite()
    problem = base_url_problem(base_url, request_timeout)
    if problem:
        usage_error(problem)
    options = run_options.Options(
        base_url=base_url, auth=auth, formats=formats, profile=profile, phases=phases,
        operations=operations or (), checks=checks or (), max_examples=max_examples,
        workers=workers, seed=seed, http_status=http_status, request_timeout=request_timeout,
        fail_fast=fail_fast, show_secrets=show_secrets)
    display = Display()
    started = time.monotonic()
    try:
        matrix = runner.run(options, display)
    except KeyboardInterrupt:
        display.close()
        usage_error(f"interrupted after {time.monotonic() - started:.0f} s")
    display.close()
    sys.exit(finish(report, matrix, outputs))

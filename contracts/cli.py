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
    """A path the command cannot write stops it before the run (one line, exit 2)."""
    problem = run_options.unwritable(path) if path is not None else None
    if problem:
        usage_error(f"{option} {path}: {problem}")


def base_url_problem(base_url: str, timeout: float) -> str | None:
    """None if the base URL answers an operation of the API, else what is wrong."""
    from capmock.contracts import transport

    if not base_url.startswith(("http://", "https://")):
        return f"--base-url {base_url!r}: expected an http:// or https:// URL"
    probe = run_options.Options(base_url=base_url, request_timeout=timeout)
    try:
        answer = transport.send(probe, "json", "GET", PROBE_PATH, None, {"format": "json"})
    except transport.NoAnswer as error:
        return f"cannot reach {base_url}: GET {PROBE_PATH}: {error.why}"
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


OUTPUTS = (  # the reports only the command writes (the run's own files are in Options)
    ("--junit-xml", "junit_xml", "Write a JUnit XML report here."),
    ("--json-report", "json_report", "Write a JSON report here."),
    ("--report", "html_report", "Write a self-contained HTML report here."),
)
CALLBACKS = {"auth": check_auth}


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def whole(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


def click_option(name: str, choice: run_options.Choice, default: Any) -> Callable[..., Any]:
    """One click option from the option table (contracts/options.py)."""
    common: dict[str, Any] = {"help": choice.help, "callback": CALLBACKS.get(name)}
    if choice.kind == "flag":
        return click.option(flag_name(name), name, is_flag=True, **common)
    types: dict[str, Any] = {
        "text": None, "path": click.Path(dir_okay=False),
        "choice": click.Choice(choice.values()) if choice.kind == "choice" else None,
        "csv": csv_choice(choice.allowed),
        "int": click.IntRange(whole(choice.low), whole(choice.high)),
        "float": click.FloatRange(choice.low, choice.high)}
    spelled = run_options.spelled(default)
    return click.option(flag_name(name), name, type=types[choice.kind], default=spelled,
                        required=choice.required, metavar=choice.metavar,
                        show_default=spelled is not None, **common)


def table_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every option of the table, then the reports, in that order on --help."""
    for option, name, text in reversed(OUTPUTS):
        command = click.option(option, name, type=click.Path(dir_okay=False, path_type=Path),
                               help=text)(command)
    for name, choice, default in reversed(run_options.table()):
        command = click_option(name, choice, default)(command)
    return command


def options_from(values: dict[str, Any]) -> run_options.Options:
    """Options from the command's values (an unset csv option keeps its default)."""
    return run_options.Options(**{name: values[name] for name, _choice, _default
                                  in run_options.table() if values[name] is not None})


@click.command("verify")
@table_options
def command(junit_xml: Path | None, json_report: Path | None, html_report: Path | None,
            **values: Any) -> None:
    """Verify a server against the customer API contract, in JSON and XML."""
    outputs = {"--junit-xml": junit_xml, "--json-report": json_report, "--report": html_report}
    for option, path in outputs.items():
        writable(path, option)
    for name, choice, _default in run_options.table():
        if choice.kind == "path" and values[name] is not None:
            writable(Path(values[name]), flag_name(name))
    runner, report = load_suite()
    options = options_from(values)
    problem = base_url_problem(options.base_url, options.request_timeout)
    if problem:
        usage_error(problem)
    display = Display()
    started = time.monotonic()
    try:
        matrix = runner.run(options, display)
    except KeyboardInterrupt:
        display.close()
        usage_error(f"interrupted after {time.monotonic() - started:.0f} s")
    display.close()
    sys.exit(finish(report, matrix, outputs))

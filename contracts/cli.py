"""`capmock verify`: run the conformance suite against a server.

Exit codes: 0 conformant, 1 at least one violation, 2 usage or connection
error (click's own usage errors already exit 2).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import click

from capmock.contracts import options as run_options
from capmock.contracts import report, runner
from capmock.openapi import contract

CONNECTION_ERROR = 2


def csv_choice(allowed: tuple[str, ...]) -> click.ParamType:
    class CsvChoice(click.ParamType):
        name = ",".join(allowed)

        def convert(self, value: object, param: object, ctx: object) -> tuple[str, ...]:
            if isinstance(value, tuple):
                return value
            items = tuple(v.strip() for v in str(value).split(",") if v.strip())
            unknown = [v for v in items if v not in allowed]
            if unknown or not items:
                self.fail(f"{', '.join(unknown) or 'nothing'}: choose from {', '.join(allowed)}")
            return items
    return CsvChoice()


def reachable(base_url: str) -> str | None:
    """None if the server answers HTTP at all, else why not."""
    try:
        urllib.request.urlopen(base_url.rstrip("/") + "/v1.1/customer/get", timeout=10)
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, "reason", error))
    return None


def progress(line: str) -> None:
    click.echo(f"  {line}", err=True)


def finish(matrix: runner.Matrix, junit: Path | None, html_report: Path | None) -> int:
    click.echo(report.text_matrix(matrix))
    for line in report.skip_lines(matrix):
        click.echo(f"skipped: {line}")
    for line in report.failure_lines(matrix):
        click.echo(line)
    for error in matrix.errors:
        click.echo(f"error: {error}", err=True)
    if junit:
        report.write_junit(matrix, junit)
    if html_report:
        report.write_html(matrix, html_report, "capmock verify")
    return 1 if matrix.failed or matrix.errors else 0


@click.command("verify")
@click.option("--base-url", required=True, help="The server under test, e.g. http://127.0.0.1:8080")
@click.option("--auth", metavar="TILL:PASSWORD", help="HTTP Basic as the platform expects it.")
@click.option("--formats", type=csv_choice(run_options.FORMATS), default="json,xml",
              show_default=True)
@click.option("--profile", type=click.Choice(contract.PROFILES), default="lenient",
              show_default=True, help="strict: undocumented fields are violations.")
@click.option("--phases", type=csv_choice(run_options.PHASES),
              default=",".join(run_options.PHASES), show_default=True)
@click.option("--operations", type=csv_choice(tuple(contract.operations())), default=None,
              help="Comma-separated operationIds (default: all 19).")
@click.option("--max-examples", default=10, show_default=True, type=click.IntRange(1))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same requests.")
@click.option("--http-status", type=click.Choice(["mirror", "always-200"]), default="mirror",
              show_default=True, help="The status-line policy the server follows.")
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--report", "html_report", type=click.Path(dir_okay=False, path_type=Path))
def command(base_url: str, auth: str | None, formats: tuple[str, ...], profile: str,
            phases: tuple[str, ...], operations: tuple[str, ...] | None, max_examples: int,
            workers: int, seed: int, http_status: str, junit_xml: Path | None,
            html_report: Path | None) -> None:
    """Verify a server against the customer API contract, in JSON and XML."""
    problem = reachable(base_url)
    if problem:
        click.echo(f"cannot reach {base_url}: {problem}", err=True)
        sys.exit(CONNECTION_ERROR)
    options = run_options.Options(base_url=base_url, auth=auth, formats=formats, profile=profile,
                             phases=phases, operations=operations or (),
                             max_examples=max_examples, workers=workers, seed=seed,
                             http_status=http_status)
    sys.exit(finish(runner.run(options, progress), junit_xml, html_report))

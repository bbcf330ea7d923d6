"""The sandbox's command-line options (capmock serve --mode sandbox, capmock seed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import platformdirs

from capmock.mockserver.sandbox.registration import check_rule
from capmock.mockserver.sandbox.store import POSTGRES_SCHEMES
from capmock.openapi.serving import CliError

MEMORY = ":memory:"
# The URL schemes of a PostgreSQL store (libpq and psycopg take both);
# store.open_store dispatches on the same prefixes.


def default_store_path() -> Path:
    """The sandbox kept between runs: a SQLite file in the user's data directory
    (~/.local/share/capmock on Linux; platformdirs knows macOS and Windows)."""
    return platformdirs.user_data_path("capmock") / "sandbox.sqlite"


def store_url(value: str | None) -> str:
    return value if value else str(default_store_path())


def check_store(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A path, :memory: or a PostgreSQL URL. Anything else that looks like a URL
    (sqlite:///x, mysql://..., a mistyped postgressql://) is refused here: the
    SQLite store would take it for a path and serve from directories named like
    the URL. One line, exit 2 (CliError)."""
    if value is None or value == MEMORY or value.startswith(POSTGRES_SCHEMES):
        return value
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise CliError(f"--store {value}: unknown scheme {scheme}://; expected a file "
                         "path, :memory: or postgresql://user@host/db")
    return value


def required_rule(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return check_rule(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


store_option = click.option(
    "--store", metavar="PATH|:memory:|postgresql://...", callback=check_store,
    help="Where the sandbox lives: a SQLite file (default: "
         f"{default_store_path()}), :memory:, or a PostgreSQL URL shared by instances.")

OPTIONS = [
    store_option,
    click.option("--required-identifiers", default="mobile|email", show_default=True,
                 callback=required_rule,
                 help="Registration Configuration: identifiers a registration needs; "
                      "a|b = one of them, a,b = all of them, '' = none."),
    click.option("--allow-mobile-update", is_flag=True, help="CONF_ALLOW_MOBILE_UPDATE."),
    click.option("--allow-email-update", is_flag=True, help="CONF_ALLOW_EMAIL_UPDATE."),
    click.option("--allow-external-id-update", is_flag=True,
                 help="CONF_LOYALTY_ALLOW_EXTERNAL_ID_UPDATE."),
    click.option("--registration-past-days", default=36500, show_default=True,
                 type=click.IntRange(0), help="Oldest registered_on accepted (else 1034)."),
    click.option("--registration-future-days", default=0, show_default=True,
                 type=click.IntRange(0), help="Latest registered_on accepted (else 1034)."),
]


def sandbox_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(OPTIONS):
        command = option(command)
    return command


def sandbox_settings(mode: str, workers: int, values: dict[str, Any]) -> dict[str, Any]:
    """Settings fields for the sandbox; the store is created and seeded here,
    once, before the workers start."""
    if mode != "sandbox":
        return {}
    url = store_url(values.pop("store"))
    if url == MEMORY and workers > 1:
        raise click.UsageError("--store :memory: lives in one process; use a file or "
                               "PostgreSQL with --workers > 1")
    if url != MEMORY:
        prepare(url)
    return {"store": url, **values}


def prepare(url: str) -> None:
    from capmock.mockserver.sandbox.seed import ensure_seeded
    from capmock.mockserver.sandbox.store import open_store

    try:
        store = open_store(url)
    except Exception as error:  # the database's own message says what is wrong
        raise click.UsageError(f"cannot open the sandbox store {url}: {error}") from None
    ensure_seeded(store)
    store.close()


def describe(url: str) -> str:
    return "PostgreSQL" if url.startswith(POSTGRES_SCHEMES) else f"SQLite {url}"

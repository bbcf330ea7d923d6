"""`capmock seed`: load a sandbox file into a sandbox store, or write one out."""

from __future__ import annotations

from pathlib import Path

import click

from capmock.mockserver.sandbox import transfer
from capmock.mockserver.sandbox.options import prepare, store_option, store_url
from capmock.mockserver.sandbox.store import open_store


@click.command("seed")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@store_option
@click.option("--replace", is_flag=True,
              help="Replace the whole sandbox by the file (default: add to it).")
@click.option("--export", "export", is_flag=True,
              help="Write the sandbox to FILE instead of loading FILE.")
def command(file: Path, store: str | None, replace: bool, export: bool) -> None:
    """Load customers and their history (a sandbox file, JSON or YAML) into the
    sandbox; a running `capmock serve --mode sandbox` on the same store sees them."""
    url = store_url(store)
    prepare(url)
    sandbox = open_store(url)
    if export:
        file.write_text(transfer.dumps(transfer.export(sandbox)), encoding="utf-8")
        click.echo(f"wrote {file}", err=True)
        return
    if not file.is_file():
        raise click.BadParameter(f"{file} does not exist", param_hint="FILE")
    try:
        data = transfer.parse(file.read_bytes())
        count = (transfer.replace if replace else transfer.add)(sandbox, data)
    except transfer.BadSandboxFile as error:
        raise click.ClickException(f"{file}: {error}; nothing was loaded") from None
    click.echo(f"{'replaced the sandbox with' if replace else 'added'} {count} customers "
               f"from {file}", err=True)

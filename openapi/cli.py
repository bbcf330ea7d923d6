"""The `capmock` command.

Subcommands are registered by each layer in the `capmock.commands` entry-point
group (pyproject.toml) and loaded only when invoked, so `capmock lint` never
imports the mock server and the base command imports no layer above it.
Every subcommand it loads also reads its options from CAPMOCK_<COMMAND>_<KEY>
variables and from capmock.toml (config.py), with one mechanism here rather
than code per option.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from capmock.openapi import config

GROUP = "capmock.commands"


class LazyGroup(click.Group):
    """A click group whose subcommands come from entry points, loaded on use
    and configured (environment variables, --print-config) by config.configure."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, click.Command] = {}

    def _entries(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._entries())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._loaded:
            entry = self._entries().get(cmd_name)
            if entry is None:
                return None
            self._loaded[cmd_name] = config.configure(cmd_name, entry.load())
        return self._loaded[cmd_name]

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a value it rejects names the variable or the file
        it came from, as a flag's error names the flag."""
        try:
            return super().invoke(ctx)
        except click.BadParameter as error:
            config.annotate(error)
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", envvar=config.CONFIG_ENV,
              show_envvar=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=f"Configuration file (default: the nearest {config.FILE_NAME}, or "
                   f"{config.PYPROJECT} with [tool.capmock], from here up to the project root).")
@click.version_option(package_name="capmock")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Contract, mock server and conformance suite for the Capillary
    InTouch REST API v1.1 customer resource, in JSON and XML."""
    settings = config.load(config_path, Path.cwd())
    group: click.Group = ctx.command  # type: ignore[assignment]
    config.check_tables(settings, group.list_commands(ctx))
    ctx.meta[config.SOURCE] = settings
    name = ctx.invoked_subcommand
    command = group.get_command(ctx, name) if name else None
    if name and command:
        ctx.default_map = {name: config.default_map(settings, name, command)}

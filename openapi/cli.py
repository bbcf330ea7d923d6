"""The `capmock` command.

Subcommands are registered by each layer in the `capmock.commands` entry-point
group (pyproject.toml) and loaded only when invoked, so `capmock lint` never
imports the mock server and the base command imports no layer above it.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import click

GROUP = "capmock.commands"


class LazyGroup(click.Group):
    """A click group whose subcommands come from entry points, loaded on use."""

    def _entries(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._entries())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self._entries().get(cmd_name)
        return entry.load() if entry else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="capmock")
def main() -> None:
    """Contract, mock server and conformance suite for the Capillary
    InTouch REST API v1.1 customer resource, in JSON and XML."""

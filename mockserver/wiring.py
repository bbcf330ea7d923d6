"""Where the shell wires the sandbox in: the one module of the mock's core that
imports `capmock.mockserver.sandbox` (ARCHITECTURE.md, "Into the sandbox").

`wsgi.create_app` asks it for the answering port of a mode and for the
sandbox's admin endpoints; `serve` asks it for the sandbox's command-line
options. Everything else of the core reaches the sandbox through the answering
port (`port.AnsweringPort`) only, which `tests/test_architecture.py` holds.
The sandbox's service and admin blueprint are imported when an app is made,
not when this module is: `serve` loads it for the options alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from capmock.mockserver.sandbox.options import sandbox_options, sandbox_settings

if TYPE_CHECKING:
    from flask import Flask

    from capmock.mockserver.sandbox.service import Sandbox
    from capmock.mockserver.settings import Settings

__all__ = ["answering_port", "register_admin", "sandbox_options", "sandbox_settings"]


def answering_port(settings: Settings) -> Sandbox | None:
    """The sandbox of mode sandbox (its store opened and seeded); None: replay."""
    if settings.mode != "sandbox":
        return None
    from capmock.mockserver.sandbox.service import Sandbox

    return Sandbox(settings)


def register_admin(app: Flask, box: Sandbox | None) -> None:
    """The /__capmock/sandbox/ endpoints of `box` (None: replay; they answer 404)."""
    from capmock.mockserver.sandbox import admin

    admin.register(app, box)

"""Configuration of every `capmock` subcommand: flag > environment > file > default.

A container or a compose file can only set environment variables, and a
partner's repository wants its settings in a file; so each option of each
subcommand (serve, verify, proxy, seed, build, lint: whatever the
`capmock.commands` entry points load) is also read from an environment
variable and from a configuration file, with no code per option: the base
command (cli.py) hands every subcommand it loads to `configure`, which gives
each option its variable, and hands the subcommand its table of the file as
click's `default_map`. Click itself then resolves flag > environment >
default_map > default and converts every value with the option's own type,
so `CAPMOCK_SERVE_CORS=false`, `cors = false` and `--no-cors` mean the same.

Decisions:
- Names come from the long flag, as `--help` shows it, not from the Python
  parameter: `--delay` is the key `delay` (not `delay_ms`), `--journal/
  --no-journal` is `journal`; the variable is CAPMOCK_<COMMAND>_<KEY>, dashes
  as underscores (CAPMOCK_SERVE_HTTP_STATUS). The command is part of the name
  because serve, proxy and verify share option names with other meanings
  (--port is 8080 for serve and 8081 for proxy; serve's --auth is the
  credentials it requires, verify's those it sends) and one env file may
  configure all three. Only these exact names are read: a stray CAPMOCK_*
  variable (CAPMOCK_SETTINGS, CAPMOCK_PROXY_SETTINGS, which serve and proxy
  use to hand settings to their workers, CAPMOCK_TEST_POSTGRES of the tests)
  is never an option.
- The file is `--config PATH` (or CAPMOCK_CONFIG) when given; else the first
  `capmock.toml`, or `pyproject.toml` with a `[tool.capmock]` table, from the
  current directory upwards, never above the project root (the first
  directory holding pyproject.toml or .git, searched itself). capmock.toml
  has one table per command (`[serve]`), pyproject.toml `[tool.capmock.serve]`.
- File values are handed to click as the strings an environment variable
  would hold (TOML's `true`, `8080`, `"sandbox"`), so one conversion applies
  to both: `port = true` is the same usage error as CAPMOCK_SERVE_PORT=true,
  not port 1. A list is accepted only by an option that takes several values.
- An unknown table or key is a one-line error naming it and the file (exit
  2): a typo must not silently fall back to the default. Only the invoked
  command's keys are checked, because checking the others would import every
  layer (schemathesis included) on every run.
- `--print-config`, added to every subcommand, prints the effective values as
  TOML for capmock.toml, each line saying where its value came from.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

PREFIX = "CAPMOCK"
CONFIG_ENV = f"{PREFIX}_CONFIG"
FILE_NAME = "capmock.toml"
PYPROJECT = "pyproject.toml"
PROJECT_ROOT_MARKERS = (PYPROJECT, ".git")
PRINT = "capmock.print_config"  # ctx.meta key set by --print-config
SOURCE = "capmock.config"  # ctx.meta key: the Config in effect
SCALARS = (str, int, float, bool)


class ConfigError(click.ClickException):
    """A configuration file capmock cannot use: one line on stderr, exit 2."""

    exit_code = 2


@dataclass(frozen=True)
class Config:
    """A configuration file's command tables (`path` None: no file)."""

    path: Path | None = None
    tables: dict[str, Any] = field(default_factory=dict)
    pyproject: bool = False

    def table_name(self, command: str) -> str:
        return f"[tool.capmock.{command}]" if self.pyproject else f"[{command}]"


def key(option: click.Option) -> str:
    """An option's key in the file: its first long flag without the dashes."""
    for opt in option.opts:
        if opt.startswith("--"):
            return opt[2:]
    return (option.name or "").replace("_", "-")


def envvar(command: str, option: click.Option) -> str:
    """CAPMOCK_<COMMAND>_<KEY>, dashes as underscores: CAPMOCK_SERVE_HTTP_STATUS."""
    return f"{PREFIX}_{command}_{key(option)}".upper().replace("-", "_")


def configurable(command: click.Command) -> list[click.Option]:
    """The options a user sets (not --help, --version, --print-config)."""
    return [p for p in command.params if isinstance(p, click.Option) and p.expose_value]


def configure(name: str, command: click.Command) -> click.Command:
    """A copy of `command` whose options read CAPMOCK_<NAME>_<KEY> (shown by
    --help) and which has --print-config; the loaded command stays as it is,
    so a test that invokes it directly sees only its flags."""
    clone = copy.copy(command)
    clone.params = [with_envvar(name, p) for p in command.params]
    if not any(p.name == "print_config" for p in command.params):
        clone.params.append(print_config_option())
        clone.callback = printing(command.callback)
    return clone


def with_envvar(command: str, param: click.Parameter) -> click.Parameter:
    if not isinstance(param, click.Option) or not param.expose_value or param.envvar:
        return param
    option = copy.copy(param)
    option.envvar = envvar(command, option)
    option.show_envvar = True
    return option


def print_config_option() -> click.Option:
    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[PRINT] = True

    return click.Option(["--print-config"], is_flag=True, expose_value=False,
                        allow_from_autoenv=False, callback=remember,
                        help="Print the effective configuration (flags, CAPMOCK_* "
                             "variables, capmock.toml) as TOML, and exit.")


def printing(callback: Callable[..., Any] | None) -> Callable[..., Any]:
    """The command's callback, unless --print-config was given: then print and exit 0.
    It runs after every option is resolved and checked, before the command acts."""

    def run(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        if ctx.meta.get(PRINT):
            click.echo(render(ctx), nl=False)
            ctx.exit(0)
        return callback(*args, **kwargs) if callback else None

    return functools.update_wrapper(run, callback) if callback else run


# --- finding and reading the file ---------------------------------------------------------

def find(start: Path) -> Path | None:
    """capmock.toml, or a pyproject.toml with [tool.capmock], from `start` upwards,
    never above the first directory holding pyproject.toml or .git."""
    for directory in (start, *start.parents):
        if (directory / FILE_NAME).is_file():
            return directory / FILE_NAME
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and "capmock" in read(pyproject).get("tool", {}):
            return pyproject
        if any((directory / marker).exists() for marker in PROJECT_ROOT_MARKERS):
            return None
    return None


def read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def load(explicit: Path | None, start: Path) -> Config:
    """The configuration in effect: `explicit` (--config) or the one `find` finds."""
    path = explicit or find(start)
    if path is None:
        return Config()
    data = read(path)
    pyproject = path.name == PYPROJECT
    if pyproject:
        data = data.get("tool", {}).get("capmock", {})
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: [tool.capmock] must be a table")
    return Config(path=path.resolve(), tables=data, pyproject=pyproject)


def check_tables(config: Config, commands: list[str]) -> None:
    """Every top-level entry is the table of a command."""
    for name, value in config.tables.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{config.path}: unknown key {name!r} outside a table; options "
                              f"go in their command's table, e.g. {config.table_name('serve')}")
        if name not in commands:
            raise ConfigError(f"{config.path}: unknown command table {config.table_name(name)}"
                              f"{suggestion(name, commands)}; commands: {', '.join(commands)}")


def default_map(config: Config, name: str, command: click.Command) -> dict[str, Any]:
    """The command's table as click's default_map: keys checked, mapped to the
    parameters' names, values as the strings an environment variable holds."""
    table = config.tables.get(name, {})
    options = {key(option): option for option in configurable(command)}
    where = f"{config.path}: {config.table_name(name)}"
    values: dict[str, Any] = {}
    for given, value in table.items():
        option = options.get(given)
        if option is None or option.name is None:
            raise ConfigError(f"{where}: unknown key {given!r}{suggestion(given, options)}")
        values[option.name] = as_text(value, option, f"{where} {given}")
    return values


def as_text(value: object, option: click.Option, where: str) -> Any:
    """A TOML value as the strings click would get from the command line: a list
    for an option that takes several values (a list of lists when it is repeated
    and takes several each time), a single value given to a repeated option
    as a list of one."""
    if option.multiple and option.nargs != 1:
        items: list[object] = value if isinstance(value, list) else [value]
        groups = [item for item in items if isinstance(item, list)]
        if len(groups) != len(items):
            raise ConfigError(f"{where}: expected a list of {option.nargs}-value lists")
        return [[scalar(v, where) for v in group] for group in groups]
    if isinstance(value, list) and (option.multiple or option.nargs != 1):
        return [scalar(item, where) for item in value]
    if isinstance(value, list):
        raise ConfigError(f"{where}: takes one value, not a list")
    text = scalar(value, where)
    return [text] if option.multiple else text


def scalar(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SCALARS):
        return str(value)
    raise ConfigError(f"{where}: expected a string, a number or a boolean, "
                      f"not {type(value).__name__}")


def suggestion(given: str, known: Mapping[str, Any] | list[str]) -> str:
    close = difflib.get_close_matches(given.replace("_", "-"), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- where a value came from ---------------------------------------------------------------

def origin(ctx: click.Context, option: click.Option) -> str:
    """flag --port, env CAPMOCK_SERVE_PORT, file /path/capmock.toml, or default."""
    source = ctx.get_parameter_source(option.name or "")
    if source is ParameterSource.COMMANDLINE:
        return "flag"
    if source is ParameterSource.ENVIRONMENT:
        return f"env {option.envvar}"
    if source is ParameterSource.DEFAULT_MAP:
        config: Config = ctx.meta.get(SOURCE, Config())
        return f"file {config.path}"
    return "default"


def annotate(error: click.BadParameter) -> None:
    """Say where a rejected value came from when it was not a flag:
    Invalid value for '--port' (env CAPMOCK_SERVE_PORT): 'x' is not a valid integer."""
    ctx, option = error.ctx, error.param
    if ctx is None or not isinstance(option, click.Option) or error.param_hint is not None:
        return
    where = origin(ctx, option)
    if where.startswith(("env ", "file ")):
        if where.startswith("file "):
            config: Config = ctx.meta.get(SOURCE, Config())
            where += f" {config.table_name(ctx.info_name or '')} {key(option)}"
        flags = " / ".join(f"'{opt}'" for opt in option.opts)
        error.param_hint = f"{flags} ({where})"


# --- --print-config -------------------------------------------------------------------------

def render(ctx: click.Context) -> str:
    """The effective options as a capmock.toml table, a comment per line saying
    where the value came from; an unset option is a commented-out line."""
    name = ctx.info_name or ""
    lines = [f"# capmock {name}: flag > env > file > default",
             f"# file: {ctx.meta.get(SOURCE, Config()).path or 'none found'}",
             f"# env: {PREFIX}_{name.upper().replace('-', '_')}_<KEY>, dashes as underscores",
             f"[{name}]"]
    rows = list(entries(ctx))
    width = max((len(row) for row, _ in rows), default=0)
    lines += [f"{row.ljust(width)}  # {comment}" for row, comment in rows]
    return "\n".join(lines) + "\n"


def entries(ctx: click.Context) -> Iterator[tuple[str, str]]:
    for option in configurable(ctx.command):
        value = ctx.params.get(option.name or "")
        where = origin(ctx, option)
        if value is None:
            yield f"# {key(option)} =", f"{where}: not set ({option.envvar})"
        else:
            yield f"{key(option)} = {toml_value(value, option)}", where


def toml_value(value: object, option: click.Option) -> str:
    """A TOML literal that reads back as `value`: an option of one value whose
    type yields several (verify's --formats) is written comma-separated, as on
    the command line."""
    if isinstance(value, tuple | list):
        if option.multiple or option.nargs != 1:
            return "[" + ", ".join(toml_value(item, option) for item in value) + "]"
        return json.dumps(",".join(str(item) for item in value), ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)

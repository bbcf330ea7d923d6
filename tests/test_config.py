"""Configuration of the `capmock` subcommands (openapi/config.py): every option
from a flag, a CAPMOCK_<COMMAND>_<KEY> variable, capmock.toml or pyproject's
[tool.capmock], in that order, then its default; and --print-config.

In-process tests run the real `capmock serve` through the base command with
granian replaced by a recorder, so they see the values the command acts on;
one test starts a real server configured by environment variables only."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from capmock.contracts.proxy_cli import ENV as PROXY_SETTINGS_ENV
from capmock.mockserver import serve as serve_module
from capmock.mockserver.settings import ENV as SETTINGS_ENV
from capmock.openapi import cli, config
from capmock.openapi.serving import Serving

CAPMOCK = str(Path(sys.executable).with_name("capmock"))
INTERNAL = {SETTINGS_ENV, PROXY_SETTINGS_ENV, "CAPMOCK_TEST_POSTGRES"}


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CAPMOCK_* variable of the developer's shell, and a project of our own:
    tmp_path is the current directory and, with its .git, the project root."""
    for name in list(os.environ):
        if name.startswith("CAPMOCK_") and name not in INTERNAL:
            monkeypatch.delenv(name)
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `capmock serve` would hand granian, instead of serving."""
    calls: list[dict[str, Any]] = []

    def unchecked(host: str, port: int, idle_timeout_s: float = 30.0,
                  max_connections: int | None = None) -> Serving:
        """The port as asked for, neither bound nor locked (a test binds nothing)."""
        return Serving(host, port, None, idle_timeout_s, max_connections or 1024)

    def record(settings: Any, serving: Serving, workers: int, threads: int = 4) -> None:
        calls.append({"settings": settings, "host": serving.host, "port": serving.port,
                      "workers": workers, "threads": threads,
                      "idle_timeout": serving.idle_timeout_s})

    monkeypatch.setattr(serve_module, "prepare", unchecked)
    monkeypatch.setattr(serve_module, "run_granian", record)
    return calls


def capmock(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.main, list(args), env=env)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def effective(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return tomllib.loads(result.stdout)


def comments(result: Result) -> dict[str, str]:
    """key -> the comment saying where its value came from."""
    out = {}
    for line in result.stdout.splitlines():
        body, _, comment = line.partition("  # ")
        name = body.lstrip("# ").partition(" =")[0]
        if " =" in body:
            out[name] = comment.strip()
    return out


# value in the file, in the environment, on the command line; the default; and
# how the command sees it (Settings field or run_granian argument)
KINDS = {
    "int": ("port", "port = 9001", "9002", ["--port", "9003"], 8080, 9001, 9002, 9003),
    "bool flag": ("cors", "cors = false", "true", ["--no-cors"], True, False, True, False),
    "choice": ("http_status", 'http-status = "always-200"', "mirror",
               ["--http-status", "always-200"], "platform", "always-200", "mirror", "always-200"),
    "wire": ("wire", 'wire = "document"', "platform", ["--wire", "document"], "platform",
             "document", "platform", "document"),
}
ENV_NAMES = {"port": "CAPMOCK_SERVE_PORT", "cors": "CAPMOCK_SERVE_CORS",
             "http_status": "CAPMOCK_SERVE_HTTP_STATUS", "wire": "CAPMOCK_SERVE_WIRE"}


def seen(call: dict[str, Any], name: str) -> Any:
    return call[name] if name in call else getattr(call["settings"], name)


@pytest.mark.parametrize("kind", KINDS)
def test_flag_beats_env_beats_file_beats_default(
        kind: str, served: list[dict[str, Any]], clean: Path) -> None:
    name, line, env_value, flag, default, from_file, from_env, from_flag = KINDS[kind]
    env = {ENV_NAMES[name]: env_value}
    assert capmock("serve").exit_code == 0
    write(clean / "capmock.toml", f"[serve]\n{line}\n")
    assert capmock("serve").exit_code == 0
    assert capmock("serve", env=env).exit_code == 0
    assert capmock("serve", *flag, env=env).exit_code == 0
    assert [seen(call, name) for call in served] == [default, from_file, from_env, from_flag]


def test_env_values_use_the_options_own_conversion(served: list[dict[str, Any]]) -> None:
    env = {"CAPMOCK_SERVE_CORS": "no", "CAPMOCK_SERVE_JOURNAL": "0",
           "CAPMOCK_SERVE_DEFAULT_FORMAT": "xml", "CAPMOCK_SERVE_DELAY": "25",
           "CAPMOCK_SERVE_ALLOW_MOBILE_UPDATE": "1", "CAPMOCK_SERVE_HOST": "127.0.0.2"}
    assert capmock("serve", env=env).exit_code == 0
    (call,) = served
    settings = call["settings"]
    assert (settings.cors, settings.journal_size, settings.default_format, settings.delay_ms,
            call["host"]) == (False, 0, "xml", 25, "127.0.0.2")
    assert capmock("serve", "--print-config", env=env).stdout.count("# env ") == 6


def test_pyproject_tool_capmock_is_found_from_a_subdirectory(
        served: list[dict[str, Any]], clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean / "pyproject.toml", '[project]\nname = "partner"\n\n'
                                    "[tool.capmock.serve]\nport = 9005\nworkers = 3\n")
    monkeypatch.chdir(write(clean / "src" / "app" / "x.py", "").parent)
    result = capmock("serve", "--print-config")
    assert effective(result)["serve"]["workers"] == 3
    assert comments(result)["workers"] == f"file {clean / 'pyproject.toml'}"
    assert capmock("serve").exit_code == 0
    assert (served[0]["port"], served[0]["workers"]) == (9005, 3)


def test_capmock_toml_wins_over_pyproject_and_the_search_stops_at_the_project_root(
        served: list[dict[str, Any]], clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean / "capmock.toml", "[serve]\nport = 9006\n")
    write(clean / "pyproject.toml", "[tool.capmock.serve]\nport = 9007\n")
    assert capmock("serve").exit_code == 0
    write(clean / "inner" / "pyproject.toml", '[project]\nname = "other"\n')
    monkeypatch.chdir(clean / "inner")  # another project: the outer file is not its own
    assert capmock("serve").exit_code == 0
    assert [call["port"] for call in served] == [9006, 8080]


def test_explicit_config_file_by_flag_or_environment(
        served: list[dict[str, Any]], clean: Path) -> None:
    path = write(clean / "etc" / "mock.toml", '[serve]\nmode = "replay"\nbatch-limit = 7\n')
    assert capmock("--config", str(path), "serve").exit_code == 0
    assert capmock("serve", env={"CAPMOCK_CONFIG": str(path)}).exit_code == 0
    assert [call["settings"].batch_limit for call in served] == [7, 7]
    missing = capmock("--config", str(clean / "nope.toml"), "serve")
    assert missing.exit_code == 2 and "nope.toml" in missing.stderr


@pytest.mark.parametrize(("text", "named"), [
    ("[serve]\nprot = 9000\n", "unknown key 'prot' (did you mean 'port'?)"),
    ("[serve]\ndelay_ms = 5\n", "unknown key 'delay_ms' (did you mean 'delay'?)"),
    ("[serve]\nprint-config = true\n", "unknown key 'print-config'"),
    ("[serv]\nport = 9000\n", "unknown command table [serv] (did you mean 'serve'?)"),
    ("port = 9000\n", "unknown key 'port' outside a table"),
    ("[serve]\nport = [9000]\n", "[serve] port: takes one value, not a list"),
    ("[serve\n", "not valid TOML"),
])
def test_a_file_capmock_cannot_use_is_one_line_exit_2(
        text: str, named: str, served: list[dict[str, Any]], clean: Path) -> None:
    write(clean / "capmock.toml", text)
    result = capmock("serve")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"Error: {clean / 'capmock.toml'}: "
                                          + result.stderr.split(": ", 2)[2].rstrip("\n")]
    assert named in result.stderr and "Traceback" not in result.output
    assert served == []


def test_pyproject_unknown_key_names_the_tool_table(
        served: list[dict[str, Any]], clean: Path) -> None:
    write(clean / "pyproject.toml", "[tool.capmock.serve]\nhots = '0.0.0.0'\n")
    result = capmock("serve")
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {clean / 'pyproject.toml'}: [tool.capmock.serve]: "
                             "unknown key 'hots' (did you mean 'host'?)\n")
    assert served == []


@pytest.mark.parametrize(("env", "file", "where"), [
    ({"CAPMOCK_SERVE_PORT": "eighty"}, "", "(env CAPMOCK_SERVE_PORT)"),
    ({}, '[serve]\nport = "eighty"\n', "[serve] port)"),
    ({}, "[serve]\nport = true\n", "[serve] port)"),  # not port 1
    ({"CAPMOCK_SERVE_CORS": "maybe"}, "", "'--cors' (env CAPMOCK_SERVE_CORS)"),
    ({}, '[serve]\nmode = "sandbox-ish"\n', "'--mode' (file "),
    ({"CAPMOCK_SERVE_AUTH": "nocolon"}, "", "TILL:PASSWORD"),
])
def test_a_wrong_value_is_a_usage_error_naming_where_it_came_from(
        env: dict[str, str], file: str, where: str, served: list[dict[str, Any]],
        clean: Path) -> None:
    if file:
        write(clean / "capmock.toml", file)
    result = capmock("serve", env=env)
    assert result.exit_code == 2
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: Invalid value for '--")
    assert where in error and (not file or str(clean / "capmock.toml") in error)
    assert served == []


def test_print_config_is_toml_for_capmock_toml_saying_where_each_value_came_from(
        served: list[dict[str, Any]], clean: Path) -> None:
    write(clean / "capmock.toml", '[serve]\nmode = "sandbox"\nthreads = 8\n')
    result = capmock("serve", "--print-config", "--delay", "40", "--no-access-log",
                     env={"CAPMOCK_SERVE_PORT": "9010"})
    values = effective(result)["serve"]
    assert served == []  # printed, not served
    assert (values["port"], values["mode"], values["threads"], values["delay"],
            values["access-log"], values["host"]) == (9010, "sandbox", 8, 40, False, "127.0.0.1")
    where = comments(result)
    assert where["port"] == "env CAPMOCK_SERVE_PORT"
    assert where["mode"] == where["threads"] == f"file {clean / 'capmock.toml'}"
    assert where["delay"] == where["access-log"] == "flag"
    assert where["host"] == "default"
    assert where["auth"] == "default: not set (CAPMOCK_SERVE_AUTH)"  # no TOML null
    expected = {config.key(option) for option in config.configurable(
        cli.main.get_command(click.Context(cli.main), "serve"))}
    assert set(where) == expected  # every option, whoever added it
    # pasted back into capmock.toml, it configures the same server
    write(clean / "capmock.toml", result.stdout)
    again = capmock("serve", "--print-config")
    assert effective(again) == effective(result)


def test_env_names_are_unique_and_never_an_internal_variable() -> None:
    group = cli.main
    ctx = click.Context(group)
    names = [option.envvar for name in group.list_commands(ctx)
             for option in config.configurable(group.get_command(ctx, name))]
    assert "CAPMOCK_SERVE_PORT" in names and "CAPMOCK_PROXY_UPSTREAM" in names
    assert len(names) == len(set(names))
    assert not set(names) & (INTERNAL | {config.CONFIG_ENV})


def test_stray_capmock_variables_are_not_options(served: list[dict[str, Any]]) -> None:
    env = {SETTINGS_ENV: "not json", PROXY_SETTINGS_ENV: "{", "CAPMOCK_TEST_POSTGRES": "x",
           "CAPMOCK_SERVE_NOPE": "1", "CAPMOCK_SERVE_HELP": "1",
           "CAPMOCK_SERVE_PRINT_CONFIG": "1", "CAPMOCK_VERSION": "1",
           "CAPMOCK_SERVE_PORT": "9011"}
    result = capmock("serve", env=env)
    assert result.exit_code == 0, result.output
    assert [call["port"] for call in served] == [9011]


def test_verify_proxy_and_seed_are_configured_the_same_way(clean: Path) -> None:
    write(clean / "capmock.toml", '[verify]\nbase-url = "http://127.0.0.1:9"\n'
                                  'formats = "xml"\n\n[seed]\nreplace = true\n')
    verify = capmock("verify", "--print-config", env={"CAPMOCK_VERIFY_MAX_EXAMPLES": "3"})
    values = effective(verify)["verify"]
    assert (values["formats"], values["max-examples"], values["base-url"]) == (
        "xml", 3, "http://127.0.0.1:9")
    proxy = capmock("proxy", "--print-config",
                    env={"CAPMOCK_PROXY_UPSTREAM": "http://127.0.0.1:9", "CAPMOCK_PROXY_FAIL": "1"})
    assert effective(proxy)["proxy"]["fail"] is True
    assert comments(proxy)["upstream"] == "env CAPMOCK_PROXY_UPSTREAM"
    seed = capmock("seed", "x.json", "--print-config", env={"CAPMOCK_SEED_STORE": ":memory:"})
    assert (effective(seed)["seed"]["replace"], effective(seed)["seed"]["store"]) == (
        True, ":memory:")


@click.command("probe")
@click.option("--tag", multiple=True, help="Repeatable.")
@click.option("--size", nargs=2, type=int, default=(1, 1))
@click.option("--level", type=click.Choice(["low", "high"]), default="low")
@click.option("--pair", multiple=True, nargs=2)
def probe(tag: tuple[str, ...], size: tuple[int, int], level: str,
          pair: tuple[tuple[str, str], ...]) -> None:
    click.echo(f"{list(tag)} {list(size)} {level} {[list(p) for p in pair]}")


class Entry:
    """An entry point stand-in: a subcommand added by someone else."""

    name = "probe"

    def load(self) -> click.Command:
        return probe


@pytest.mark.parametrize(("file", "env", "expected"), [
    ("", {"CAPMOCK_PROBE_TAG": "a b", "CAPMOCK_PROBE_SIZE": "2 3",
          "CAPMOCK_PROBE_PAIR": "k v x y"}, "['a', 'b'] [2, 3] low [['k', 'v'], ['x', 'y']]"),
    ('tag = ["a", "b"]\nsize = [4, 5]\nlevel = "high"\npair = [["k", "v"]]\n', {},
     "['a', 'b'] [4, 5] high [['k', 'v']]"),
    ('tag = "a"\n', {}, "['a'] [1, 1] low []"),
])
def test_multi_value_options_of_any_new_command(
        file: str, env: dict[str, str], expected: str, clean: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.main, "_entries", lambda: {"probe": Entry()})
    monkeypatch.setattr(cli.main, "_loaded", {})
    write(clean / "capmock.toml", f"[probe]\n{file}")
    result = capmock("probe", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == expected + "\n"
    printed = capmock("probe", "--print-config", env=env)
    write(clean / "capmock.toml", printed.stdout)
    assert capmock("probe").stdout == expected + "\n"


def basic(till: str, password: str) -> str:
    """The platform's Basic credentials: base64(till ":" md5hex(password))."""
    digest = hashlib.md5(password.encode()).hexdigest()
    return "Basic " + base64.b64encode(f"{till}:{digest}".encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_configured_by_environment_only_listens_where_it_says(clean: Path) -> None:
    port = free_port()
    env = {**os.environ, "CAPMOCK_SERVE_PORT": str(port), "CAPMOCK_SERVE_AUTH": "till1:123",
           "CAPMOCK_SERVE_DEFAULT_FORMAT": "xml", "CAPMOCK_SERVE_ACCESS_LOG": "false"}
    # first ask: without configuration from the environment this stops here,
    # before a server could start on the default (fixed) port
    printed = subprocess.run([CAPMOCK, "serve", "--print-config"], env=env, cwd=clean,
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert tomllib.loads(printed.stdout)["serve"]["port"] == port
    process = subprocess.Popen([CAPMOCK, "serve"], env=env, cwd=clean,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                with urllib.request.urlopen(base + "/__capmock/health", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "capmock serve did not get ready"
                time.sleep(0.05)
        request = urllib.request.Request(
            base + "/v1.1/customer/get?mobile=19889999999",
            headers={"Authorization": basic("till1", "123")})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            assert response.read().startswith(b"<?xml")  # CAPMOCK_SERVE_DEFAULT_FORMAT
        with pytest.raises(urllib.error.HTTPError) as refused:  # CAPMOCK_SERVE_AUTH
            urllib.request.urlopen(base + "/v1.1/customer/get?mobile=19889999999", timeout=5)
        assert refused.value.code == 401
        refused.value.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log = process.stdout.read().decode()
        process.stdout.close()
    assert "/v1.1/customer/get" not in log  # CAPMOCK_SERVE_ACCESS_LOG=false

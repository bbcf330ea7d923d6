"""ARCHITECTURE.md's import rules, held against the real import graph.

The rules are read from ARCHITECTURE.md itself, so the page and the code cannot
drift apart silently: the layer table ("may import"), and the run-time and
build-time module lists of the contract layer, which must match its folders
(openapi/ and openapi/build/), and "run time never imports build time" as a
folder rule: nothing outside openapi/build/ imports it. Every import counts,
including those inside functions (a lazy import is still a dependency), and a
module the page does not place fails the test.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
FOLDERS = {"capmock.fixtures": "fixtures", "capmock.openapi": "openapi",
           "capmock.mockserver": "mockserver", "capmock.contracts": "contracts"}
TABLE_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*`(capmock\.\w+)`[^|]*\|\s*([^|]+?)\s*\|$")


@cache
def layer_table() -> dict[str, set[str]]:
    """package -> the packages it may import (besides itself), from the layer table."""
    rows = [TABLE_ROW.match(line) for line in ARCHITECTURE.read_text().splitlines()]
    rows = [m for m in rows if m]
    layers = {m.group(1): m.group(2) for m in rows}
    allowed: dict[str, set[str]] = {}
    for m in rows:
        names = [n.strip() for n in m.group(3).split(",")]
        allowed[m.group(2)] = {layers[n] for n in names if n in layers}
    return allowed


def bullet(title: str) -> str:
    """The text of the bullet `- <title>: ...` (continuation lines included)."""
    match = re.search(rf"^- {re.escape(title)}:(.*?)(?=^- |^\S|\Z)", ARCHITECTURE.read_text(),
                      re.M | re.S)
    assert match, f"ARCHITECTURE.md has no bullet '- {title}:'"
    return match.group(1)


def listed_modules(title: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", bullet(title)))


def modules(package: str) -> dict[str, Path]:
    """dotted module name -> file, for every module of a package (subpackages too)."""
    folder = ROOT / FOLDERS[package]
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((package, *parts))] = path
    return out


def imported(module: str, path: Path) -> set[str]:
    """Every capmock module or package `module` imports, absolute or relative."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "capmock" or n.startswith("capmock.")}


def package_of(name: str) -> str | None:
    return next((p for p in FOLDERS if name == p or name.startswith(p + ".")), None)


def test_the_layer_table_names_every_package() -> None:
    assert set(layer_table()) == set(FOLDERS)


@pytest.mark.parametrize("package", sorted(FOLDERS))
def test_imports_follow_the_layer_table(package: str) -> None:
    allowed = layer_table()[package] | {package}
    wrong = []
    for module, path in modules(package).items():
        for name in sorted(imported(module, path)):
            target = package_of(name)
            if target is None:  # `from capmock import fixtures`: the imported names count
                continue
            if target not in allowed:
                wrong.append(f"{module} imports {name}")
    assert not wrong, f"{package} may import only {sorted(allowed)}:\n" + "\n".join(wrong)


BUILD = "capmock.openapi.build"


def contract_modules(build: bool) -> dict[str, Path]:
    """The contract's run-time modules (directly in openapi/) or its build-time
    ones (in openapi/build/), by their last name."""
    prefix = f"{BUILD}." if build else "capmock.openapi."
    return {m.rsplit(".", 1)[1]: p for m, p in modules("capmock.openapi").items()
            if m.startswith(prefix) and m.count(".") == prefix.count(".")
            and m != BUILD}


@pytest.mark.parametrize(("title", "build"), [("run time", False), ("build time", True)])
def test_the_run_time_and_build_time_lists_match_the_folders(title: str, build: bool) -> None:
    """A module is listed under "run time" if and only if it sits in openapi/,
    under "build time" if and only if it sits in openapi/build/."""
    listed, present = listed_modules(title), set(contract_modules(build)) - {"__init__"}
    other = listed_modules("build time" if title == "run time" else "run time")
    assert not listed & other, f"listed as both: {sorted(listed & other)}"
    assert not present - listed, f"ARCHITECTURE.md does not list {sorted(present - listed)} " \
                                 f"under {title!r}"
    assert not listed - present, f"ARCHITECTURE.md lists under {title!r} modules that are not " \
                                 f"in its folder: {sorted(listed - present)}"


def test_run_time_never_imports_build_time() -> None:
    """The folder rule: outside openapi/build/, no module of any package imports it
    (the build and lint commands reach it through their entry points)."""
    wrong = [f"{module} imports {name}"
             for package in sorted(FOLDERS) for module, path in modules(package).items()
             if not (module == BUILD or module.startswith(f"{BUILD}."))
             for name in sorted(imported(module, path))
             if name == BUILD or name.startswith(f"{BUILD}.")]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The graph reader finds relative, lazy and aliased imports (so the tests above
    can fail): a module of the contract layer importing the mock server three ways."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from ..mockserver import wsgi\n"
                    "import capmock.contracts.cli as c\nfrom . import codec\n")
    names = imported("capmock.openapi.probe", path)
    assert {"capmock.mockserver.wsgi", "capmock.contracts.cli",
            "capmock.openapi.codec"} <= names


# --- the proxy: a server beside the mock (its own paragraph of ARCHITECTURE.md) -----------

PROXY = "capmock.mockserver.proxy"


def proxy_allowed() -> set[str]:
    """The packages and modules the proxy may import, from the bullet that says so."""
    return {n for n in listed_modules_dotted("the proxy may import") if n.startswith("capmock.")}


def listed_modules_dotted(title: str) -> set[str]:
    return set(re.findall(r"`([\w.]+)`", bullet(title)))


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def proxy_forbidden(names: set[str]) -> set[str]:
    """The imported names the proxy may not import: not its own, not allowed, and not
    a package above an allowed module (importing a module imports its packages)."""
    allowed = proxy_allowed()
    return {n for n in names
            if n != "capmock" and not within(n, PROXY)
            and not any(within(n, a) or a.startswith(n + ".") for a in allowed)}


def test_the_proxy_imports_only_the_contract_the_data_and_the_sandbox_file() -> None:
    assert {"capmock.openapi", "capmock.fixtures"} <= proxy_allowed()
    wrong = [f"{module} imports {name}"
             for module, path in modules("capmock.mockserver").items() if within(module, PROXY)
             for name in sorted(proxy_forbidden(imported(module, path)))]
    assert not wrong, "\n".join(wrong)


def test_nothing_else_of_the_mock_server_imports_the_proxy() -> None:
    wrong = [f"{module} imports {name}"
             for module, path in modules("capmock.mockserver").items() if not within(module, PROXY)
             for name in sorted(imported(module, path)) if within(name, PROXY)]
    assert not wrong, "\n".join(wrong)


def test_the_proxy_rule_sees_the_core_the_sandbox_and_the_suite(tmp_path: Path) -> None:
    path = tmp_path / "probe.py"
    path.write_text("from capmock.mockserver import pipeline\n"
                    "def f():\n    from ..sandbox import store\n"
                    "import capmock.contracts.runner\nfrom capmock.openapi import codec\n")
    names = imported(f"{PROXY}.probe", path)
    forbidden = proxy_forbidden(names)
    assert {"capmock.mockserver.pipeline", "capmock.mockserver.sandbox.store",
            "capmock.contracts.runner"} <= forbidden
    assert not any(within(n, "capmock.openapi") for n in forbidden)


def test_the_folder_rule_sees_a_build_time_import(tmp_path: Path) -> None:
    """A run-time module importing the build subpackage, lazily and relatively,
    is an import of capmock.openapi.build as the rule above reads it."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from .build import model\n")
    assert f"{BUILD}.model" in imported("capmock.openapi.probe", path)


def test_the_core_imports_the_sandbox_only_where_the_shell_wires_it() -> None:
    """ARCHITECTURE.md's bullet "- Into the sandbox:" names the one module of the
    mock's core that may import capmock.mockserver.sandbox (mockserver/wiring.py:
    the app's port and admin endpoints, the command's options); every other core
    module reaches the sandbox through the answering port (mockserver/port.py) only. The proxy is a
    server beside the mock, held by its own rule below."""
    allowed = {f"capmock.mockserver.{name}" for name in listed_modules("Into the sandbox")}
    assert len(allowed) == 1, f"the core imports the sandbox in one place, not {sorted(allowed)}"
    sandbox = "capmock.mockserver.sandbox"
    edges = {module: sorted(n for n in imported(module, path)
                            if n == sandbox or n.startswith(sandbox + "."))
             for module, path in modules("capmock.mockserver").items()
             if not (module == sandbox or module.startswith(sandbox + ".")
                     or module.startswith(PROXY))}  # the proxy: its own rule, below
    wrong = [f"{module} imports {', '.join(names)}" for module, names in sorted(edges.items())
             if names and module not in allowed]
    assert not wrong, "only " + ", ".join(sorted(allowed)) + " may import the sandbox:\n" + \
        "\n".join(wrong)
    assert all(edges.get(module) for module in allowed), "a listed module no longer imports it"

"""`capmock verify` as QA meets it: mistakes are one line and exit 2 before
the run starts (unwritable outputs, a base URL that answers no operation),
--checks and --fail-fast narrow the run, every report carries the run's
details and totals, and curl lines can be pasted as they are."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from faults import Faulty
from flask import Flask
from lxml import etree
from serving import serving

from capmock.contracts import cli, curl
from capmock.contracts.options import HTTP_STATUS, PROFILES, WIRES, Options
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import contract, wire
from capmock.openapi.platform_auth import basic_header

QUICK = ("--phases", "examples", "--max-examples", "1", "--operations", "customer_get",
         "--formats", "json")


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app(Settings())


def verify(*args: str) -> Any:
    return CliRunner().invoke(cli.command, list(args))


def test_the_cli_knows_the_contracts_profiles() -> None:
    assert PROFILES == contract.PROFILES


def test_the_cli_knows_the_contracts_wires_and_status_policies() -> None:
    assert wire.wires() == WIRES
    assert wire.http_status_policies() == HTTP_STATUS
    assert (Options().wire, Options().http_status) == (wire.default_wire(),
                                                       wire.default_http_status())


@pytest.mark.parametrize("option", ["--report", "--junit-xml", "--json-report", "--har",
                                    "--vcr"])
def test_an_unwritable_output_stops_before_the_run(app: Flask, tmp_path: Path,
                                                   option: str) -> None:
    requests_seen = []

    def counting(environ: dict, start_response: Any) -> Any:
        requests_seen.append(environ["PATH_INFO"])
        return app(environ, start_response)

    with serving(counting) as base_url:
        result = verify("--base-url", base_url, option, str(tmp_path / "missing" / "out"))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "cannot write there" in result.output
    assert "Traceback" not in result.output and requests_seen == []


def test_an_output_path_is_left_as_it_was_when_the_base_url_is_wrong(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = verify("--base-url", "http://127.0.0.1:9", "--report", str(report))
    assert result.exit_code == 2 and "cannot reach" in result.output
    assert not report.exists()


def test_a_base_url_that_answers_no_operation_exits_2(app: Flask) -> None:
    with serving(app) as base_url:
        result = verify("--base-url", base_url + "/v1.1/customer", *QUICK)
    assert result.exit_code == 2
    assert "answers no operation of the API" in result.output
    assert "without /v1.1/customer" in result.output


def test_reports_carry_details_totals_and_counts(app: Flask, tmp_path: Path) -> None:
    paths = {"--json-report": tmp_path / "r.json", "--junit-xml": tmp_path / "r.xml",
             "--report": tmp_path / "r.html"}
    with serving(app) as base_url:
        result = verify("--base-url", base_url, *QUICK,
                        *[a for option, path in paths.items() for a in (option, str(path))])
    assert result.exit_code == 0, result.output
    assert f"server: {base_url}" in result.output and "totals: " in result.output
    assert "ok 1" in result.output  # the cell says how many responses it judged

    data = json.loads(paths["--json-report"].read_text())
    assert data["run"]["base_url"] == base_url and data["run"]["requests"] >= 1
    assert data["run"]["versions"]["schemathesis"] and data["totals"]["failed"] == 0
    cell = next(c for c in data["cells"] if c["check"] == "xml_conforms_to_xsd")
    assert cell["state"] == "skip" and cell["judged"] == 0
    assert cell["not_judged"] == "no XML body came back"

    suite = etree.parse(str(paths["--junit-xml"])).getroot()
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["base_url"] == base_url and "duration_s" in props
    assert suite.get("time") is not None
    html = paths["--report"].read_text("utf-8")
    assert base_url in html and "totals:" in html and "ok 1" in html


def test_har_and_vcr_cassettes_hold_the_runs_requests(app: Flask, tmp_path: Path) -> None:
    """schemathesis's own writers: a valid HAR file and a VCR cassette holding every
    request the engine sent, both formats, the answers' status and the Authorization
    masked (no --show-secrets)."""
    har, vcr = tmp_path / "run.har", tmp_path / "run.yaml"
    with serving(app) as base_url:
        result = verify("--base-url", base_url, "--phases", "examples", "--max-examples", "1",
                        "--operations", "customer_get,customer_add", "--auth", "till:secret",
                        "--har", str(har), "--vcr", str(vcr))
    assert result.exit_code == 0, result.output
    entries = json.loads(har.read_text("utf-8"))["log"]["entries"]
    urls = [e["request"]["url"] for e in entries]
    assert {u.split("?")[0].removeprefix(base_url) for u in urls} == {
        "/v1.1/customer/get", "/v1.1/customer/add"}
    assert any("format=json" in u for u in urls) and any("format=xml" in u for u in urls)
    assert all(e["response"]["status"] == 200 for e in entries)
    sent = [h["value"] for e in entries for h in e["request"]["headers"]
            if h["name"].lower() == "authorization"]
    assert sent and "secret" not in json.dumps(entries) and basic_header("till:secret") \
        not in json.dumps(entries)
    cassette = yaml.safe_load(vcr.read_text("utf-8"))
    uris = [i["request"]["uri"] for i in cassette["http_interactions"]]
    assert sorted(uris) == sorted(urls)  # the same requests, the same run
    assert cassette["seed"] == 0


def test_checks_runs_only_the_named_checks(app: Flask, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    with serving(app) as base_url:
        result = verify("--base-url", base_url, *QUICK, "--checks", "format_is_honoured",
                        "--json-report", str(report))
    assert result.exit_code == 0, result.output
    states = {c["check"]: c for c in json.loads(report.read_text())["cells"]}
    assert states["format_is_honoured"]["state"] == "pass"
    assert states["envelope_is_coherent"]["state"] == "skip"
    assert states["envelope_is_coherent"]["not_judged"] == "not selected (--checks)"


def test_fail_fast_stops_at_the_first_failure(app: Flask) -> None:
    with serving(Faulty(app, "no-request-id")) as base_url:
        full = verify("--base-url", base_url, "--phases", "examples", "--max-examples", "1")
        fast = verify("--base-url", base_url, "--phases", "examples", "--max-examples", "1",
                      "--fail-fast")
    assert full.exit_code == fast.exit_code == 1
    assert "stopped early: --fail-fast" in fast.output
    failing = [line for line in fast.output.splitlines() if "no X-Cap-Requestid" in line]
    assert 1 <= len(failing) < len([line for line in full.output.splitlines()
                                    if "no X-Cap-Requestid" in line])


def curl_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith("curl ")]


def test_curl_lines_carry_no_authorization_without_auth(app: Flask) -> None:
    with serving(Faulty(app, "no-request-id")) as base_url:
        result = verify("--base-url", base_url, *QUICK)
    lines = curl_lines(result.output)
    assert lines and all("Authorization" not in line and "[Filtered]" not in line
                         for line in lines)


def test_curl_lines_name_the_secret_and_show_it_only_when_asked(app: Flask) -> None:
    secret = basic_header("till1:123")
    with serving(Faulty(app, "no-request-id")) as base_url:
        hidden = verify("--base-url", base_url, *QUICK, "--auth", "till1:123")
        shown = verify("--base-url", base_url, *QUICK, "--auth", "till1:123", "--show-secrets")
    assert all(f"${curl.SECRET_VARIABLE}" in line and secret not in line
               for line in curl_lines(hidden.output))
    assert curl_lines(shown.output) and all(secret in line for line in curl_lines(shown.output))


def test_a_curl_line_pastes_into_a_shell(app: Flask) -> None:
    """The line, run by a shell as it is, sends the same request again."""
    with serving(Faulty(app, "no-request-id")) as base_url:
        result = verify("--base-url", base_url, *QUICK)
        line = curl_lines(result.output)[0]
        argv = shlex.split(line)
        answer = subprocess.run([*argv, "-s", "-o", "/dev/null", "-w", "%{http_code}"],
                                capture_output=True, text=True, timeout=30, check=False)
    assert answer.returncode == 0 and answer.stdout == "200", (line, answer)


def test_progress_names_phase_operation_format_cases_and_time_left(app: Flask) -> None:
    with serving(app) as base_url:
        result = subprocess.run(
            [cli_path(), "verify", "--base-url", base_url, *QUICK],
            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "GET /v1.1/customer/get" in line]
    line = lines[-1]
    assert line.strip().startswith("[json examples 1/1]"), lines
    assert "cases" in line and "elapsed" in line and "left" in line


def cli_path() -> str:
    import sys

    return str(Path(sys.executable).with_name("capmock"))

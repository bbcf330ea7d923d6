"""The sandbox's admin endpoints and `capmock seed`: reset, export, import,
load; bad files are refused with the store unchanged."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sandboxhelpers import ADMIN, JSON, code_of, get, listed, post, sandbox

from capmock.mockserver.sandbox.cli import command as seed_command
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app


def customers(client) -> dict[str, dict]:
    data = client.get("/__capmock/sandbox/export").get_json()
    return {c["mobile"]: c for c in data["customers"] if c.get("mobile")}


def test_export_then_import_restores_the_same_state() -> None:
    c = sandbox()
    post(c, "add", [{"mobile": "919000000001", "firstname": "Asha"}])
    saved = c.get("/__capmock/sandbox/export").data
    post(c, "add", [{"mobile": "919000000002"}])
    assert c.post("/__capmock/sandbox/import", data=saved, content_type=JSON).status_code == 200
    assert c.get("/__capmock/sandbox/export").data == saved
    assert code_of(listed(get(c, "get", "mobile=919000000002")[1]["customers"]["customer"])[0]) \
        == 1012


def test_reset_returns_to_the_documented_customers_only() -> None:
    c = sandbox()
    fresh = customers(c)
    post(c, "add", [{"mobile": "919000000001"}])
    assert c.post("/__capmock/sandbox/reset", headers=ADMIN).status_code == 200
    assert customers(c) == fresh and "19889999999" in fresh


def test_a_bad_file_is_refused_and_changes_nothing() -> None:
    c = sandbox()
    before = c.get("/__capmock/sandbox/export").data
    clash = {"format": "capmock-sandbox", "version": 1,
             "customers": [{"mobile": "1"}, {"mobile": "1"}]}
    for body in (b"{not json", json.dumps({"format": "x"}), json.dumps(clash)):
        answer = c.post("/__capmock/sandbox/import", data=body, content_type=JSON)
        assert answer.status_code == 400 and "sandbox file" in answer.get_json()["error"]
    assert c.get("/__capmock/sandbox/export").data == before


def test_load_adds_customers_with_their_history() -> None:
    c = sandbox()
    file = {"format": "capmock-sandbox", "version": 1, "customers": [
        {"mobile": "919000000007", "firstname": "Lena", "records": {"notes": [
            {"id": "1", "description": "likes tea", "added_on": "2020-01-01 00:00:00"}]}}]}
    answer = c.post("/__capmock/sandbox/load", data=json.dumps(file), content_type=JSON)
    assert answer.get_json() == {"customers": 1}
    exported = customers(c)["919000000007"]
    assert exported["firstname"] == "Lena" and len(exported["records"]["notes"]) == 1
    assert "19889999999" in customers(c)  # added to, not replaced


def test_admin_sandbox_endpoints_need_sandbox_mode() -> None:
    replay = create_app(Settings()).test_client()
    assert replay.post("/__capmock/sandbox/reset", headers=ADMIN).status_code == 404


def test_capmock_seed_loads_replaces_and_exports(tmp_path) -> None:
    store = str(tmp_path / "s.sqlite")
    file = tmp_path / "in.json"
    file.write_text(json.dumps({"format": "capmock-sandbox", "version": 1,
                                "customers": [{"mobile": "919000000008"}]}))
    runner = CliRunner()
    assert runner.invoke(seed_command, [str(file), "--store", store]).exit_code == 0
    out = tmp_path / "out.json"
    assert runner.invoke(seed_command, [str(out), "--store", store, "--export"]).exit_code == 0
    mobiles = {c.get("mobile") for c in json.loads(out.read_text())["customers"]}
    assert {"919000000008", "19889999999"} <= mobiles
    again = runner.invoke(seed_command, [str(file), "--store", store])
    assert again.exit_code == 1 and "nothing was loaded" in again.output
    assert runner.invoke(seed_command, [str(file), "--store", store, "--replace"]).exit_code == 0
    runner.invoke(seed_command, [str(out), "--store", store, "--export"])
    assert [c.get("mobile") for c in json.loads(out.read_text())["customers"]] == ["919000000008"]


def test_every_operation_acts_on_the_sandbox() -> None:
    """No operation falls back to replay in sandbox mode."""
    from capmock.mockserver.sandbox.service import handlers
    from capmock.openapi import contract

    assert set(handlers()) == set(contract.operations())


def test_state_is_kept_between_two_apps_on_one_store(tmp_path) -> None:
    """Restart: a second app on the same SQLite file reads what the first wrote."""
    store = str(tmp_path / "sandbox.sqlite")
    post(sandbox(store=store), "add", [{"mobile": "919000000001", "firstname": "Kept"}])
    _, answer = get(sandbox(store=store), "get", "mobile=919000000001")
    assert listed(answer["customers"]["customer"])[0]["firstname"] == "Kept"

"""The stateful checks: deterministic sequences against hand-made responses,
and the whole suite against a small stateful server (tests/contracts/statefake.py)
right and wrong; against the replay mock they are skipped with the reason."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from statefake import StatefulFake

from capmock.contracts import checks, runner, stateful
from capmock.contracts.options import Options
from capmock.contracts.probe import STATELESS
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import contract

OK = {"success": "true", "code": "1000", "message": "ok"}
STATUS = {"success": "true", "code": "200", "message": "Success"}


def case(operation: str, body: Any = None, query: dict | None = None) -> SimpleNamespace:
    op = contract.operations()[operation]
    return SimpleNamespace(method=op.method, path=op.path, body=body, query=query or {},
                           headers={}, media_type="application/json", id=operation,
                           operation=SimpleNamespace(label=f"{op.method} {op.path}"))


def response(data: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(status_code=200, content=json.dumps(data).encode(),
                           headers={"content-type": ["application/json; charset=utf-8"]})


def customers(*items: dict[str, Any]) -> SimpleNamespace:
    listed = [{**i, "item_status": OK} for i in items]
    return response({"response": {"status": STATUS, "customers": {"customer": listed}}})


def register(check: Any, **customer: str) -> None:
    check.after_response(None, customers(customer), case(
        "customer_add", {"root": {"customer": [customer]}}))


TOM = {"mobile": "44700900000", "email": "tom@example.com", "firstname": "Tom",
       "lastname": "Sawyer"}


def test_a_registration_read_back_unchanged_passes() -> None:
    check = stateful.registrations_are_read_back()
    register(check, **TOM)
    check.after_response(None, customers(TOM), case("customer_get", query={"mobile": "1"}))


def test_a_registration_read_back_changed_fails() -> None:
    check = stateful.registrations_are_read_back()
    register(check, **TOM)
    with pytest.raises(AssertionError, match="lastname: registered 'Sawyer'"):
        check.after_response(None, customers({**TOM, "lastname": "Finn"}),
                             case("customer_get"))


def test_an_update_is_read_back() -> None:
    check = stateful.registrations_are_read_back()
    register(check, **TOM)
    update = {"mobile": TOM["mobile"], "lastname": "Finn"}
    check.after_response(None, customers(update), case(
        "customer_update", {"root": {"customer": [update]}}))
    check.after_response(None, customers({**TOM, "lastname": "Finn"}), case("customer_get"))


def test_update_may_fill_an_empty_identifier_but_never_replace_one() -> None:
    check = stateful.identifiers_never_change()
    register(check, mobile="44700900000", firstname="Tom")
    fill = {"mobile": "44700900000", "external_id": "EXT1"}
    check.after_response(None, customers(fill), case(
        "customer_update", {"root": {"customer": [fill]}}))
    check.after_response(None, customers(fill), case("customer_get"))
    with pytest.raises(AssertionError, match="external_id: registered 'EXT1'"):
        check.after_response(None, customers({**fill, "external_id": "EXT2"}),
                             case("customer_get"))


def test_ambiguous_registrations_are_not_judged() -> None:
    """Two registrations sharing a mobile with different emails: the server may
    merge or refuse; the check forgets the customer rather than guess."""
    check = stateful.registrations_are_read_back()
    register(check, **TOM)
    register(check, **{**TOM, "email": "other@example.com", "lastname": "Other"})
    check.after_response(None, customers({**TOM, "lastname": "Anything"}), case("customer_get"))


def test_a_note_written_is_read_back() -> None:
    check = stateful.writes_are_read_back()
    item = {"mobile": "44700900999", "associate_id": "1",
            "notes": {"note": [{"date": "2016-05-05 15:15:00", "description": "Likes Maggi"}]}}
    check.after_response(None, response({"response": {"status": STATUS, "customer": {
        **item, "item_status": OK}}}), case("customer_notes_add", {"root": {"customer": item}}))
    read = {"mobile": "44700900999", "notes": {"note": []}, "item_status": OK}
    with pytest.raises(AssertionError, match="written but not read back: Likes Maggi"):
        check.after_response(None, response({"response": {"status": STATUS, "customer": read}}),
                             case("customer_notes_get"))


def test_identity_change_must_be_pending() -> None:
    body = {"response": {"status": STATUS, "customers": {"customer": {
        "identifier": "mobile", "item_status": {**OK, "code": "1000"}}}}}
    with pytest.raises(AssertionError, match="1040"):
        stateful.identity_change_is_pending(None, response(body), case("customer_update_identity"))


OPERATIONS = ("customer_add", "customer_update", "customer_get", "customer_notes_add",
              "customer_notes_get")


def run_against(app: Any) -> runner.Matrix:
    return runner.run(Options(base_url="http://127.0.0.1", app=app, formats=("json",),
                              phases=("examples", "stateful"), max_examples=10,
                              operations=OPERATIONS))


def states(matrix: runner.Matrix, check: str) -> set[str]:
    return {cell.state for (_, _, name), cell in matrix.cells.items() if name == check}


@pytest.mark.slow
def test_the_suite_passes_a_right_stateful_server() -> None:
    matrix = run_against(StatefulFake())
    assert not matrix.failed, [(k, c.failures) for k, c in matrix.cells.items() if c.failed]
    assert states(matrix, "registrations_are_read_back") == {"pass"}
    assert states(matrix, "writes_are_read_back") == {"pass"}
    assert states(matrix, "unknown_customer_is_not_found") == {"pass"}


@pytest.mark.slow
def test_the_suite_catches_an_update_that_changes_an_identifier() -> None:
    matrix = run_against(StatefulFake("update_changes_identifier"))
    cell = matrix.cells[("customer_get", "json", "identifiers_never_change")]
    assert cell.state == "fail"
    assert "GET /v1.1/customer/get" in cell.failures[0]


@pytest.mark.slow
def test_the_suite_catches_a_success_for_an_unknown_customer() -> None:
    matrix = run_against(StatefulFake("knows_everyone"))
    cell = matrix.cells[("customer_get", "json", "unknown_customer_is_not_found")]
    assert cell.state == "fail"
    assert "expected not-found" in cell.failures[0]


def test_stateful_checks_are_skipped_with_the_reason_against_replay() -> None:
    matrix = runner.run(Options(base_url="http://127.0.0.1", app=create_app(Settings()),
                                formats=("json",), phases=("examples",), max_examples=2,
                                operations=("customer_add", "customer_get")))
    cell = matrix.cells[("customer_get", "json", "registrations_are_read_back")]
    assert cell.state == "skip"
    assert cell.skipped == STATELESS


def test_the_ledger_keeps_the_identifiers_the_server_says_it_kept() -> None:
    """add with a new mobile and a known email: the server may keep the stored
    mobile (document: "not value to value") and says so in its answer."""
    check = stateful.identifiers_never_change()
    sent = {"mobile": "44700900001", "email": "tom@example.com"}
    kept = {"mobile": "44700900000", "email": "tom@example.com"}
    check.after_response(None, customers(kept), case(
        "customer_add", {"root": {"customer": [sent]}}))
    check.after_response(None, customers(kept), case("customer_get"))
    with pytest.raises(AssertionError, match="mobile: registered '44700900000'"):
        check.after_response(None, customers(sent), case("customer_get"))


def test_a_filtered_read_is_not_judged() -> None:
    """notes?associate_id=... returns that associate's notes only."""
    check = stateful.writes_are_read_back()
    item = {"mobile": "44700900999", "associate_id": "1",
            "notes": {"note": [{"date": "2016-05-05 15:15:00", "description": "Likes Maggi"}]}}
    check.after_response(None, response({"response": {"status": STATUS, "customer": {
        **item, "item_status": OK}}}), case("customer_notes_add", {"root": {"customer": item}}))
    read = {"mobile": "44700900999", "notes": {"note": []}, "item_status": OK}
    answer = response({"response": {"status": STATUS, "customer": read}})
    check.after_response(None, answer, case("customer_notes_get", query={
        "mobile": "44700900999", "associate_id": "2"}))
    with pytest.raises(AssertionError, match="written but not read back"):
        check.after_response(None, answer, case("customer_notes_get", query={
            "mobile": "44700900999"}))


def test_an_empty_identity_change_answer_is_not_judged() -> None:
    """No accepted item, nothing to judge: not an `ok`, a reason."""
    run = checks.RunSettings()
    empty = SimpleNamespace(status_code=200, content=b"",
                            headers={"content-type": ["application/json; charset=utf-8"]})
    assert stateful.identity_change_is_pending(run, empty, case("customer_update_identity"))
    reasons = run.take_unjudged()
    assert reasons[("customer_update_identity", "identity_change_is_pending")] == {
        "no accepted identity change in the answer": 1}


def test_a_read_of_a_customer_nobody_registered_is_not_judged() -> None:
    run = checks.RunSettings()
    check = stateful.registrations_are_read_back(run)
    assert check.after_response(None, customers(TOM), case("customer_get"))
    assert ("customer_get", "registrations_are_read_back") in run.take_unjudged()
    register(check, **TOM)
    assert check.after_response(None, customers(TOM), case("customer_get")) is None  # judged


def test_a_foreign_body_shape_never_crashes_a_check() -> None:
    for body in (b'"just a string"', b"[1, 2]", b"null", b'{"response": "x"}'):
        answer = SimpleNamespace(status_code=200, content=body,
                                 headers={"content-type": ["application/json; charset=utf-8"]})
        assert checks.item_statuses(contract.operations()["customer_get"],
                                    checks.body_data(answer)) == []
        stateful.identity_change_is_pending(None, answer, case("customer_update_identity"))
        with pytest.raises(AssertionError, match="is not of type 'object'"):
            checks.json_conforms_to_schema(None, answer, case("customer_get"))
        if body != b"null":  # JSON null reads as "no data": the schema check reports it
            with pytest.raises(AssertionError, match=r"response\.status|not in the platform"):
                checks.envelope_is_coherent(None, answer, case("customer_get"))

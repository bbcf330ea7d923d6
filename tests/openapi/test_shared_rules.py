"""The rules the mock, the proxy and the suite share, in the contract layer:
routing, request validation (plain problem values), the outcome table and the
envelope's readers. Driven on plain values; operations come from the sources."""

from __future__ import annotations

import json

import pytest
from sources import declared, declared_operations

from capmock.openapi import envelope, outcomes, routing, validation
from capmock.openapi.contract import operations

LIMITS = {"batch_limit": 3, "max_depth": 20}


@pytest.mark.parametrize("operation", declared_operations())
def test_every_declared_operation_routes_to_itself(operation: str) -> None:
    spec = declared()[operation]
    found = routing.route(spec["method"].upper(), spec["path"])
    assert not isinstance(found, routing.Refusal)
    assert found.id == operation
    assert routing.find_operation(spec["method"].lower(), spec["path"] + "/").id == operation


def test_an_unknown_path_is_refused_with_404() -> None:
    found = routing.route("GET", "/v1.1/customer/nowhere")
    assert found == routing.Refusal(404, "no resource at /v1.1/customer/nowhere")
    assert routing.find_operation("GET", "/v1.1/customer/nowhere") is None


def test_a_wrong_method_is_refused_with_405_and_the_allowed_methods() -> None:
    op = next(o for o in operations().values() if o.method == "GET")
    found = routing.route("DELETE", op.path)
    assert isinstance(found, routing.Refusal)
    assert (found.status, found.allowed) == (405, ("GET",))
    assert found.message == f"DELETE is not allowed on {op.path}; use GET"


def get_op() -> str:
    return next(o.id for o in operations().values() if o.method == "GET" and o.batch
                and "mobile" in o.identifiers)


def post_op() -> str:
    return next(o.id for o in operations().values() if o.method == "POST" and o.batch
                and o.item == ("customers", "customer"))


def check(operation: str, query: list[tuple[str, str]], content_type: str = "",
          body: bytes = b"") -> validation.Checked:
    return validation.check_request(operations()[operation], query, content_type, body, **LIMITS)


def test_a_get_without_an_identifier_misses_it() -> None:
    checked = check(get_op(), [("format", "json")])
    assert [p.kind for p in checked.problems] == ["missing_identifier"]
    assert checked.items == []


def test_a_get_has_one_item_per_identifier_value() -> None:
    checked = check(get_op(), [("mobile", "919999999999,918888888888")])
    assert checked.problems == []
    assert checked.items == [{"mobile": "919999999999"}, {"mobile": "918888888888"}]


def test_more_identifiers_than_the_batch_limit_break_it() -> None:
    checked = check(get_op(), [("mobile", ",".join(["919999999999"] * 4))])
    assert [p.kind for p in checked.problems] == ["batch_limit"]


def test_a_query_value_xml_cannot_carry_is_refused_alone() -> None:
    checked = check(get_op(), [("mobile", "91\x01"), ("email", "not an email")])
    assert [p.kind for p in checked.problems] == [validation.REFUSED]
    assert checked.problems[0].message.startswith("query mobile:")


def test_undocumented_and_control_parameters_pass() -> None:
    checked = check(get_op(), [("mobile", "919999999999"), ("__code", "x"), ("extra", "y")])
    assert checked.problems == []


def test_required_parameters_are_named_when_missing() -> None:
    op = operations()[get_op()]
    required = validation.required_parameters(op.id)
    problems = validation.required_problems(op, [])
    assert [p.field for p in problems] == list(required)
    assert validation.required_problems(op, [(n, "x") for n in required]) == []


@pytest.mark.parametrize(("content_type", "body", "start"), [
    ("application/json", b"", "the request body is empty"),
    ("application/json", b"{nope", "malformed JSON"),
    ("application/xml", b"<root><customer>", ""),
    ("text/csv", b"a,b", ""),
])
def test_an_unreadable_body_is_refused_alone(content_type: str, body: bytes, start: str) -> None:
    checked = check(post_op(), [], content_type, body)
    assert [p.kind for p in checked.problems] == [validation.REFUSED]
    assert checked.problems[0].message.startswith(start)


def test_a_bad_item_of_a_batch_is_a_problem_of_that_item_in_both_formats() -> None:
    good = {"mobile": "919999999999", "email": "a@example.com", "firstname": "A"}
    bad = {**good, "mobile": "12"}
    json_body = json.dumps({"root": {"customer": [good, bad]}}).encode()
    for content_type, body in [
        ("application/json", json_body),
        ("application/xml", b"<root><customer><mobile>919999999999</mobile></customer>"
                            b"<customer><mobile>12</mobile></customer></root>"),
    ]:
        checked = check(post_op(), [], content_type, body)
        assert len(checked.items) == 2
        assert {(p.item, p.field) for p in checked.problems} == {(1, "mobile")}, content_type


def test_the_strict_profile_rejects_an_undocumented_field_the_lenient_one_passes() -> None:
    op = operations()[post_op()]
    body = validation.Body({"root": {"customer": {"mobile": "919999999999", "zz_extra": "1"}}})
    assert validation.body_problems(op, body, 3, "lenient") == []
    strict = validation.body_problems(op, body, 3, "strict")
    assert [p.item for p in strict] == [0]


def test_the_outcome_table_answers_the_suite_s_questions() -> None:
    update_identity = "customer_update_identity"
    assert outcomes.code_for(update_identity, "identity_change_pending") == 1040
    assert outcomes.code_for(get_op(), "customer_not_found") == 1012
    assert outcomes.code_for(get_op(), "no_such_rule") is None
    assert "subject" in outcomes.empty_fields()


def test_the_envelope_readers_read_what_the_writers_wrote() -> None:
    op = operations()[post_op()]
    ok = {"mobile": "1", "item_status": envelope.item_status(op.id, 1000)}
    bad = envelope.item_error(op.id, list(op.item), 1001, {"mobile": "2"})
    failed = envelope.answer_items(bad, op.item)[0]
    body = envelope.item_body(list(op.item), [ok, failed], envelope.PARTIAL_FAILURE)
    assert envelope.answer_items(body, op.item) == [ok, failed]
    assert envelope.request_code(body) == 201
    assert envelope.request_code({"response": {}}) is None
    assert envelope.request_code("not an answer") is None
    assert [envelope.item_succeeded(i) for i in (ok, failed)] == [True, False]


@pytest.mark.parametrize(("successes", "code"), [
    ([True, True], 200), ([True, False], 201), ([False, False], 500), ([], 200)])
def test_the_200_201_500_rule(successes: list[bool], code: int) -> None:
    assert envelope.batch_code(successes) == code

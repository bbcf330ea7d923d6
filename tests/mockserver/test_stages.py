"""The mock's pipeline driven on plain MockRequest values (no Flask, no test
client): each stage, the decision table, and the answering port."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from capmock import fixtures
from capmock.mockserver import decision, pipeline, replay
from capmock.mockserver.decision import Act, Problems, Who
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.mockserver.port import Answer, Call, Choice
from capmock.mockserver.settings import Settings
from capmock.openapi import envelope
from capmock.openapi.contract import Operation, operations
from capmock.openapi.outcomes import code_for
from capmock.openapi.validation import REFUSED, Problem

SETTINGS = Settings(batch_limit=3, http_status="mirror")  # the status line shows the code
JSON = {"accept": "application/json", "content-type": "application/json"}


def op_of(operation: str) -> Operation:
    return operations()[operation]


def coded_post() -> Operation:
    """A batch POST whose invalid mobile has an item-level code."""
    return next(o for o in operations().values() if o.method == "POST" and o.batch
                and code_for(o.id, "invalid_field", "mobile") is not None)


def uncoded_get() -> Operation:
    """A batch GET by mobile whose invalid mobile has no item-level code (400)."""
    return next(o for o in operations().values() if o.method == "GET" and o.batch
                and "mobile" in o.identifiers
                and code_for(o.id, "invalid_field", "mobile") is None)


def post(op: Operation, items: list[dict[str, Any]], **headers: str) -> MockRequest:
    body = json.dumps({"root": {op.item[-1]: items}}).encode()
    return MockRequest("POST", op.path, "format=json", {**JSON, **headers}, body)


def customer(mobile: str) -> dict[str, str]:
    return {"mobile": mobile, "email": f"c{mobile}@example.com", "firstname": "A"}


def decoded(body: bytes) -> dict[str, Any]:
    return json.loads(body)


# --- stages -------------------------------------------------------------------------

def test_route_finds_the_operation_or_rejects_with_404_and_405() -> None:
    op = uncoded_get()
    assert pipeline.route(MockRequest("GET", op.path)) is op
    with pytest.raises(Rejection) as missing:
        pipeline.route(MockRequest("GET", "/v1.1/customer/nowhere"))
    assert missing.value.request_code == 404
    with pytest.raises(Rejection) as method:
        pipeline.route(MockRequest("PUT", op.path))
    assert (method.value.request_code, method.value.detail) == (
        405, f"PUT is not allowed on {op.path}; use GET")


def test_validate_reads_items_and_problems_of_a_plain_request() -> None:
    op = coded_post()
    checked = pipeline.validate(op, post(op, [customer("919999999999"), customer("12")]),
                                SETTINGS)
    assert len(checked.items) == 2
    assert [(p.kind, p.field, p.item) for p in checked.problems] == [
        ("invalid_field", "mobile", 1)]


def test_the_answerer_is_the_port_unless_replay_or_a_forced_code() -> None:
    op = coded_post()
    port = RecordingPort()
    assert pipeline.answerer(op, Choice(), port) is Who.PORT
    assert pipeline.answerer(op, Choice(code=1001), port) is Who.REPLAY
    assert pipeline.answerer(op, Choice(), replay.REPLAY) is Who.REPLAY
    assert pipeline.answerer(op, Choice(), RecordingPort(handled=False)) is Who.REPLAY


def test_respond_applies_the_status_policy_platform_mirror_or_always_200() -> None:
    op = coded_post()
    mirror = Settings(http_status="mirror")  # platform, the default since h5: item-level 200
    assert pipeline.respond(b"{}", "json", 201, mirror, op).status == 201
    assert pipeline.respond(b"{}", "json", 201, Settings(), op).status == 200
    assert pipeline.respond(b"{}", "json", 405, Settings(), op).status == 405
    always = pipeline.respond(b"{}", "json", 201, Settings(http_status="always-200"), op)
    assert (always.status, always.request_code, always.operation) == (200, 201, op.id)


# --- the decision table ----------------------------------------------------------------

def test_the_table_has_a_row_for_every_pair() -> None:
    assert set(decision.TABLE) == {(p, w) for p in Problems for w in Who}


def problem(kind: str, field: str | None = None, item: int | None = None,
            message: str = "m") -> Problem:
    return Problem(kind, "here", message, field, item)


CODED_ITEM = problem("invalid_field", "mobile", 1, "bad mobile")
CODED_WHOLE = problem("batch_limit", None, None, "too many")
UNCODED_ITEM = problem("invalid", None, 0, "not this")
UNCODED_WHOLE = problem("invalid", None, None, "not at all")


@pytest.mark.parametrize(("problems", "who", "act", "message", "failing"), [
    ([], Who.REPLAY, Act.ANSWER, "", []),
    ([], Who.PORT, Act.ANSWER, "", []),
    ([problem(REFUSED, message="unreadable")], Who.PORT, Act.REFUSE_FIRST, "unreadable", []),
    ([CODED_ITEM, UNCODED_WHOLE], Who.REPLAY, Act.REFUSE_COUNTED, "not at all (and 1 more)", []),
    ([CODED_ITEM, UNCODED_WHOLE], Who.PORT, Act.REFUSE_COUNTED, "not at all (and 1 more)", []),
    ([CODED_ITEM, UNCODED_ITEM], Who.REPLAY, Act.REFUSE_COUNTED, "not this (and 1 more)", []),
    ([CODED_ITEM, UNCODED_ITEM], Who.PORT, Act.REFUSE_FIRST, "not this", []),
    ([CODED_WHOLE], Who.REPLAY, Act.FAIL_ALL, "", [0, 1, 2]),
    ([CODED_WHOLE, CODED_ITEM], Who.PORT, Act.FAIL_ALL, "", [0, 1, 2]),
    ([CODED_ITEM], Who.REPLAY, Act.ANSWER, "", [1]),
    ([CODED_ITEM], Who.PORT, Act.ANSWER, "", [1]),
])
def test_decide(problems: list[Problem], who: Who, act: Act, message: str,
                failing: list[int]) -> None:
    op = coded_post()
    plan = decision.decide(op.id, problems, who, 3)
    assert (plan.act, plan.message, sorted(plan.failures)) == (act, message, failing)
    assert plan.who is (Who.REPLAY if act is Act.FAIL_ALL else who)
    first_code = code_for(op.id, problems[0].kind, problems[0].field) if problems else None
    if act is Act.FAIL_ALL:
        assert {s["code"] for s in plan.failures.values()} == {str(first_code)}


# --- the answering port -----------------------------------------------------------------

@dataclass
class RecordingPort:
    """A stateful port that answers every item as a success and records its calls."""

    handled: bool = True
    stateful: bool = True
    calls: list[Call] = field(default_factory=list)

    def handles(self, op: Operation) -> bool:
        return self.handled

    def answer(self, call: Call) -> Answer:
        self.calls.append(call)
        ok = envelope.item_status(call.op.id, code_for(call.op.id, "succeeded") or 1000)
        items = [{"item_status": call.failures.get(i, ok)} for i in range(len(call.items))]
        code = envelope.batch_code(envelope.item_succeeded(i) for i in items)
        return Answer(envelope.item_body(list(call.op.item), items, code), code)


def test_a_partial_success_is_the_port_s_answer_not_an_exception() -> None:
    op = coded_post()
    port = RecordingPort()
    answer = pipeline.handle(post(op, [customer("919999999999"), customer("12")]), SETTINGS,
                             port)
    assert (answer.status, answer.request_code) == (201, 201)
    [call] = port.calls
    assert sorted(call.failures) == [1]
    assert call.failures[1]["code"] == str(code_for(op.id, "invalid_field", "mobile"))
    items = envelope.answer_items(decoded(answer.body), op.item)
    assert [envelope.item_succeeded(i) for i in items] == [True, False]


def test_a_forced_code_goes_to_replay_not_to_the_port() -> None:
    op = coded_post()
    port = RecordingPort()
    code = code_for(op.id, "invalid_field", "mobile")
    answer = pipeline.handle(post(op, [customer("919999999999")], prefer=f"code={code}"),
                             SETTINGS, port)
    assert port.calls == []
    assert answer.request_code == 500


def test_an_uncoded_problem_is_a_400_naming_it_and_the_port_is_not_called() -> None:
    op = uncoded_get()
    port = RecordingPort()
    answer = pipeline.handle(MockRequest("GET", op.path, "format=json&mobile=12", JSON),
                             SETTINGS, port)
    assert answer.status == 400
    assert "mobile" in decoded(answer.body)["response"]["status"]["message"]
    assert port.calls == []


def test_replay_answers_the_documented_sample_byte_for_byte() -> None:
    op = uncoded_get()
    sample = fixtures.find(op.id, "default", "response", "xml")
    assert sample is not None
    query = fixtures.find(op.id, "default", "request", "url").read_text().split("?", 1)[1]
    answer = pipeline.handle(MockRequest("GET", op.path, query.split()[0] + "&format=xml"),
                             Settings())
    assert (answer.status, answer.body) == (200, sample.read_bytes())


def test_replay_s_failures_are_a_201_value() -> None:
    op = coded_post()
    status = envelope.item_status(op.id, code_for(op.id, "invalid_field", "mobile"))
    call = Call(op, {}, [customer("919999999999"), customer("12")], {1: status})
    answer = replay.REPLAY.answer(call)
    assert (answer.request_code, answer.partial) == (201, True)
    # the malformed mobile is not echoed (the answer stays valid), the email is
    assert envelope.answer_items(answer.body, op.item)[1] == {"email": "c12@example.com",
                                                             "item_status": status}

"""A fresh sandbox answers the documented GET request URL of notes, tickets,
referrals, preferences and subscriptions (fixtures/samples/<op>/default.request.url)
with 200 and the sample's data, in JSON and XML (seed.yaml)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sandboxhelpers import decode, sandbox

from capmock.openapi.contract import json_errors, operations, render, xml_errors

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
OPERATIONS = ("customer_notes_get", "customer_tickets_get", "customer_referrals_get",
              "customer_preferences_get", "customer_subscriptions_get")


def sample_url(op_id: str, fmt: str) -> str:
    line = (SAMPLES / op_id / "default.request.url").read_text().split()[1]
    parts = urlsplit(line)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "format"] + [("format", fmt)]
    return f"{parts.path}?{urlencode(query)}"


def item(data: dict[str, Any], op_id: str, array: bool) -> dict[str, Any]:
    """The one item of an answer; `array`: the item node is a one-item array (the
    platform's JSON), else an object (XML, the document's JSON)."""
    node: Any = data["response"]
    for key in operations()[op_id].item:
        node = node[key]
    if array:
        assert isinstance(node, list) and len(node) == 1, node
        node = node[0]
    assert isinstance(node, dict), node
    return node


def known_differences(op_id: str, expected: dict[str, Any], got: dict[str, Any]) -> None:
    """What the sandbox answers otherwise, and why (edits `expected` in place)."""
    if op_id == "customer_preferences_get":  # the code table's wording of item code 1000
        expected["item_status"]["message"] = got["item_status"]["message"]
    if op_id == "customer_notes_get":
        # seed.yaml: mobile 44700900999 is John Doe's (user 1034); the notes sample
        # shows another identity (Catherine Thomas) for the same mobile
        for name in ("user_id", "firstname", "lastname", "email", "external_id"):
            expected[name] = got[name]
    if op_id == "customer_referrals_get":
        # event_type TRANSACTION needs a transaction of Dexter Morgan, which the seed
        # does not hold (transactions are history.py's records)
        expected["referees"]["referee"][0]["event_type"] = "REGISTRATION"


# The JSON answer once per form: the document's (the sample as documented; this test is about
# the document's form) and the platform's (the default: the sample's data on the platform's
# wire). The XML is the same in both.
FORMS: dict[str, dict[str, str]] = {"document": {"wire": "document", "http_status": "mirror"},
                                    "platform": {}}


@pytest.mark.parametrize(("fmt", "form"), [("json", "document"), ("json", "platform"),
                                           ("xml", "platform")])
@pytest.mark.parametrize("op_id", OPERATIONS)
def test_documented_get_answers_the_sample(op_id: str, fmt: str, form: str) -> None:
    answer = sandbox(**FORMS[form]).get(sample_url(op_id, fmt))
    assert answer.status_code == 200
    errors = (json_errors(op_id, "response", json.loads(answer.data), "strict", wire=form)
              if fmt == "json" else xml_errors(op_id, "response", answer.data, "strict"))
    assert errors == []
    on_platform = fmt == "json" and form == "platform"
    got = item(decode(answer.data, fmt), op_id, on_platform)
    documented = decode((SAMPLES / op_id / f"default.response.{fmt}").read_bytes(), fmt)
    sample = render(op_id, "response", documented, "platform") if on_platform else documented
    expected = copy.deepcopy(item(sample, op_id, on_platform))
    known_differences(op_id, expected, got)
    assert got == expected


def test_the_seeded_ticket_does_not_refuse_the_create_sample() -> None:
    client = sandbox()
    body = (SAMPLES / "customer_tickets_add" / "default.request.json").read_bytes()
    answer = client.post("/v1.1/customer/tickets?format=json", data=body,
                         content_type="application/json")
    assert answer.status_code == 200
    customers = json.loads(answer.data)["response"]["customers"]["customer"]
    assert isinstance(customers, list) and [c["item_status"]["code"] for c in customers] == [
        "1300"]

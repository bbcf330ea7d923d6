"""Sandbox mode: notes, tickets, referrals, preferences and subscriptions
(notes.py, tickets.py, referrals.py, preferences.py, subscriptions.py), in
JSON and XML; every answer must validate against the strict profile."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sandboxhelpers import (
    ALL_FAILED,
    MEDIA,
    SOME_FAILED,
    code_of,
    decode,
    encode,
    listed,
    outcome,
    sandbox,
)

from capmock.mockserver.auth import expected_header
from capmock.openapi.contract import json_errors, xml_errors

FORMATS = ("json", "xml")
PATHS = {"notes": ("customer_notes_add", "customer_notes_get"),
         "tickets": ("customer_tickets_add", "customer_tickets_get"),
         "referrals": ("customer_referrals_add", "customer_referrals_get"),
         "preferences": ("customer_preferences_update", "customer_preferences_get"),
         "subscriptions": ("customer_subscriptions_update", "customer_subscriptions_get")}


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client() -> Any:
    return sandbox()


def strict(op_id: str, raw: bytes, fmt: str) -> None:
    errors = (json_errors(op_id, "response", json.loads(raw), "strict", wire="platform")
              if fmt == "json" else xml_errors(op_id, "response", raw, "strict"))
    assert errors == [], errors


def post(c: Any, path: str, items: Any, fmt: str, key: str = "customer",
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    answer = c.post(f"/v1.1/customer/{path}?format={fmt}", data=encode({"root": {key: items}}, fmt),
                    content_type=MEDIA[fmt], headers=headers or {})
    if answer.status_code != 400:
        strict(PATHS[path][0], answer.data, fmt)
    return answer.status_code, decode(answer.data, fmt)["response"]


def get(c: Any, path: str, query: str, fmt: str) -> tuple[int, dict]:
    answer = c.get(f"/v1.1/customer/{path}?format={fmt}&{query}")
    strict(PATHS[path][1], answer.data, fmt)
    return answer.status_code, decode(answer.data, fmt)["response"]


def insert(c: Any, **doc: Any) -> str:
    store = c.application.extensions["capmock"].sandbox.store
    with store.transaction(write=True) as tx:
        return tx.insert_customer(doc).user_id


def add_record(c: Any, user_id: str, kind: str, doc: dict[str, Any]) -> None:
    store = c.application.extensions["capmock"].sandbox.store
    with store.transaction(write=True) as tx:
        tx.add_record(int(user_id), kind, doc)


def stored(c: Any, user_id: str) -> dict[str, Any]:
    store = c.application.extensions["capmock"].sandbox.store
    with store.transaction() as tx:
        return tx.customer("user_id", user_id).doc


def records(c: Any, user_id: str, kind: str) -> list[dict[str, Any]]:
    store = c.application.extensions["capmock"].sandbox.store
    with store.transaction() as tx:
        return [r.doc for r in tx.records(int(user_id), kind)]


def single(node: Any) -> Any:
    """The one item of a repeated element (an array of one in the platform's JSON)."""
    items = listed(node)
    assert len(items) == 1, items
    return items[0]


def one(response: dict[str, Any], *path: str) -> dict[str, Any]:
    """The one item at path, each repeated element on the way holding one item."""
    node: Any = response
    for key in path:
        node = single(node)[key]
    return single(node)


def items_of(response: dict[str, Any], *path: str) -> list[dict[str, Any]]:
    node: Any = response
    for key in path:
        node = single(node)[key]
    return listed(node)


CATHERINE = {"firstname": "Catherine", "lastname": "Thomas", "mobile": "5551000001",
             "email": "catherine@sandbox.test", "external_id": "ENG-CT1",
             "registered_on": "2016-01-01 10:00:00"}


# --- notes ---------------------------------------------------------------------------------

def note_item(associate: str = "443", *notes: dict[str, str], **ids: str) -> dict[str, Any]:
    ids = ids or {"mobile": CATHERINE["mobile"]}
    notes = notes or ({"date": "2016-05-05 15:15:00", "description": "Likes Maggi"},)
    return {**ids, "associate_id": associate, "notes": {"note": list(notes)}}


def test_notes_add_answers_the_customer_with_the_new_notes(client: Any, fmt: str) -> None:
    user_id = insert(client, **CATHERINE)
    code, response = post(client, "notes", [note_item(
        "443", {"id": "15", "date": "2016-05-05 15:15:00", "description": "Likes Maggi"},
        {"date": "2016-05-06 10:00:00", "description": "Prefers email"})], fmt)
    assert code == 200
    customer = one(response, "customer")
    assert code_of(customer) == 1000
    assert customer["user_id"] == user_id and customer["firstname"] == "Catherine"
    assert customer["associate_id"] == "443"
    notes = items_of(customer, "notes", "note")
    assert notes == [{"id": "1", "date": "2016-05-05 15:15:00", "description": "Likes Maggi"},
                     {"id": "2", "date": "2016-05-06 10:00:00", "description": "Prefers email"}]
    assert records(client, user_id, "notes") == [
        {"id": "1", "description": "Likes Maggi", "added_on": "2016-05-05 15:15:00",
         "associate_id": "443"},
        {"id": "2", "description": "Prefers email", "added_on": "2016-05-06 10:00:00",
         "associate_id": "443"}]


def test_notes_add_with_the_id_of_a_note_updates_it(client: Any, fmt: str) -> None:
    user_id = insert(client, **CATHERINE)
    post(client, "notes", [note_item()], fmt)
    code, response = post(client, "notes", [note_item(
        "500", {"id": "1", "date": "2016-06-01 09:00:00", "description": "Likes noodles"})], fmt)
    assert code == 200
    assert one(response, "customer", "notes", "note")["id"] == "1"
    notes = records(client, user_id, "notes")
    assert notes == [{"id": "1", "description": "Likes noodles", "added_on": "2016-06-01 09:00:00",
                      "associate_id": "500"}]


def catherine_with_two_notes(client: Any, fmt: str) -> None:
    """Note "a" by associate 443 on 5 May, note "b" by 234 on 7 May, each its own request."""
    insert(client, **CATHERINE)
    post(client, "notes", [note_item("443", {"date": "2016-05-05 15:15:00", "description": "a"})],
         fmt)
    post(client, "notes", [note_item("234", {"date": "2016-05-07 15:15:00", "description": "b"})],
         fmt)


def test_notes_get_lists_the_notes_in_order(client: Any, fmt: str) -> None:
    catherine_with_two_notes(client, fmt)
    code, response = get(client, "notes", f"mobile={CATHERINE['mobile']}", fmt)
    assert code == 200
    customer = one(response, "customer")
    assert code_of(customer) == 1000
    assert items_of(customer, "notes", "note") == [
        {"id": "1", "description": "a", "added_on": "2016-05-05 15:15:00"},
        {"id": "2", "description": "b", "added_on": "2016-05-07 15:15:00"}]


def test_notes_get_filters_by_associate(client: Any, fmt: str) -> None:
    catherine_with_two_notes(client, fmt)
    _, response = get(client, "notes", f"mobile={CATHERINE['mobile']}&associate_id=234", fmt)
    assert [n["description"] for n in items_of(response, "customer", "notes", "note")] == ["b"]
    code, response = get(client, "notes", f"mobile={CATHERINE['mobile']}&associate_id=999", fmt)
    assert outcome(code, response) == ALL_FAILED and code_of(one(response, "customer")) == 1028


def test_notes_get_without_notes_is_1028(client: Any, fmt: str) -> None:
    insert(client, **CATHERINE)
    code, response = get(client, "notes", f"email={CATHERINE['email']}", fmt)
    customer = one(response, "customer")
    assert outcome(code, response) == ALL_FAILED and code_of(customer) == 1028
    assert customer["email"] == CATHERINE["email"]


def test_notes_get_shows_user_id_only_when_asked(client: Any, fmt: str) -> None:
    user_id = insert(client, **CATHERINE)
    post(client, "notes", [note_item()], fmt)
    _, response = get(client, "notes", f"mobile={CATHERINE['mobile']}", fmt)
    assert "user_id" not in one(response, "customer")
    _, response = get(client, "notes", f"mobile={CATHERINE['mobile']}&user_id=true", fmt)
    assert one(response, "customer")["user_id"] == user_id
    _, response = get(client, "notes", f"user_id={user_id}", fmt)
    assert one(response, "customer")["user_id"] == user_id


def test_notes_get_by_the_generic_identifier(client: Any, fmt: str) -> None:
    insert(client, **CATHERINE)
    post(client, "notes", [note_item()], fmt)
    for value in (CATHERINE["mobile"], CATHERINE["email"], CATHERINE["external_id"]):
        code, response = get(client, "notes", f"identifier={value}", fmt)
        assert code == 200 and code_of(one(response, "customer")) == 1000
    code, response = get(client, "notes", "identifier=nobody", fmt)
    assert outcome(code, response) == ALL_FAILED and code_of(one(response, "customer")) == 1012


def test_notes_text_xml_cannot_carry_is_refused(client: Any) -> None:
    insert(client, **CATHERINE)
    code, response = post(client, "notes", [note_item("443", {
        "date": "2016-05-05 15:15:00", "description": "a\x03b"})], "json")
    assert code == 400 and "description" in response["status"]["message"]
    code, response = get(client, "notes", f"mobile={CATHERINE['mobile']}", "xml")
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customer")) == 1028  # nothing stored


def test_notes_for_unknown_customers(client: Any, fmt: str) -> None:
    code, response = post(client, "notes", [note_item(mobile="5559000001")], fmt)
    assert outcome(code, response) == ALL_FAILED and code_of(one(response, "customer")) == 1012
    assert one(response, "customer")["mobile"] == "5559000001"
    code, response = post(client, "notes", [note_item(user_id="987654")], fmt)
    assert outcome(code, response) == ALL_FAILED and code_of(one(response, "customer")) == 1011
    code, response = post(client, "notes", [note_item(loyalty_id="1")], fmt)
    assert outcome(code, response) == ALL_FAILED and code_of(one(response, "customer")) == 1015
    code, response = get(client, "notes", "mobile=5559000001", fmt)
    assert outcome(code, response) == ALL_FAILED and code_of(one(response, "customer")) == 1012


# --- tickets -------------------------------------------------------------------------------

JOHN = {"firstname": "John", "lastname": "Doe", "mobile": "5551000002",
        "email": "john@sandbox.test", "external_id": "ENG-JD1",
        "registered_on": "2016-01-01 10:00:00"}


def ticket(subject: str = "points issue", **fields: Any) -> dict[str, Any]:
    return {"status": "OPEN", "priority": "HIGH", "department": "INTERNAL", "subject": subject,
            "message": "Unable to redeem points", **fields}


def ticket_item(*tickets: dict[str, Any], **ids: str) -> dict[str, Any]:
    return {**(ids or {"mobile": JOHN["mobile"]}), "ticket": list(tickets) or [ticket()]}


def test_tickets_add_creates_a_ticket_with_a_generated_code(client: Any, fmt: str) -> None:
    user_id = insert(client, **JOHN)
    sent = ticket(custom_fields={"field": [{"name": "field1", "value": "value1"}]})
    code, response = post(client, "tickets", [ticket_item(sent)], fmt)
    assert code == 200
    customer = one(response, "customers", "customer")
    assert code_of(customer) == 1300
    assert customer["id"] == user_id and customer["email"] == JOHN["email"]
    created = one(customer, "ticket")
    assert re.fullmatch("[0-9a-z]{9}", created["code"])
    assert created["subject"] == "points issue" and created["status"] == "OPEN"
    assert one(created, "custom_fields", "field") == {"name": "field1", "value": "value1"}
    saved = records(client, user_id, "tickets")
    assert len(saved) == 1 and saved[0]["code"] == created["code"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", saved[0]["created_on"])
    code, response = get(client, "tickets", f"mobile={JOHN['mobile']}", fmt)
    listed_ticket = one(response, "customer", "tickets", "ticket")
    assert code == 200 and listed_ticket == created
    assert one(response, "customer")["firstname"] == "John"


def test_tickets_codes_differ(client: Any, fmt: str) -> None:
    insert(client, **JOHN)
    _, first = post(client, "tickets", [ticket_item(ticket("a"))], fmt)
    _, second = post(client, "tickets", [ticket_item(ticket("b"))], fmt)
    codes = {one(r, "customers", "customer", "ticket")["code"] for r in (first, second)}
    assert len(codes) == 2


def test_tickets_status_defaults_to_open(client: Any, fmt: str) -> None:
    insert(client, **JOHN)
    _, response = post(client, "tickets", [ticket_item({"subject": "late delivery"})], fmt)
    assert one(response, "customers", "customer", "ticket")["status"] == "OPEN"


def test_tickets_same_subject_as_an_open_ticket_is_1301(client: Any, fmt: str) -> None:
    user_id = insert(client, **JOHN)
    post(client, "tickets", [ticket_item()], fmt)
    code, response = post(client, "tickets", [ticket_item(ticket(
        "  Points Issue ", message="unable to redeem POINTS"))], fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1301
    assert len(records(client, user_id, "tickets")) == 1


def test_tickets_same_subject_with_another_message_is_a_new_ticket(client: Any,
                                                                     fmt: str) -> None:
    user_id = insert(client, **JOHN)
    post(client, "tickets", [ticket_item()], fmt)
    code, response = post(client, "tickets", [ticket_item(ticket(
        message="Product received is damaged"))], fmt)
    assert code == 200 and code_of(one(response, "customers", "customer")) == 1300
    assert len(records(client, user_id, "tickets")) == 2


def test_tickets_closed_tickets_do_not_block_their_subject(client: Any, fmt: str) -> None:
    user_id = insert(client, **JOHN)
    post(client, "tickets", [ticket_item(ticket(status="CLOSED"))], fmt)
    code, response = post(client, "tickets", [ticket_item()], fmt)
    assert code == 200 and code_of(one(response, "customers", "customer")) == 1300
    code, response = post(client, "tickets", [ticket_item()], fmt)
    assert code_of(one(response, "customers", "customer")) == 1301
    assert len(records(client, user_id, "tickets")) == 2


def test_tickets_of_one_item_are_created_all_or_none(client: Any, fmt: str) -> None:
    user_id = insert(client, **JOHN)
    code, response = post(client, "tickets", [ticket_item(ticket("a"), ticket("A"))], fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1301
    assert records(client, user_id, "tickets") == []
    code, response = post(client, "tickets", [ticket_item(ticket("a"), ticket("b"))], fmt)
    assert code == 200 and len(items_of(response, "customers", "customer", "ticket")) == 2


def test_tickets_empty_subject_is_1303(client: Any, fmt: str) -> None:
    user_id = insert(client, **JOHN)
    code, response = post(client, "tickets", [ticket_item(ticket(""))], fmt)
    customer = one(response, "customers", "customer")
    assert outcome(code, response) == ALL_FAILED and code_of(customer) == 1303
    assert customer["mobile"] == JOHN["mobile"]
    no_subject = {k: v for k, v in ticket().items() if k != "subject"}
    code, response = post(client, "tickets", [ticket_item(no_subject)], fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1303
    assert records(client, user_id, "tickets") == []


def test_tickets_sent_ticket_code_is_kept_and_unique(client: Any, fmt: str) -> None:
    insert(client, **JOHN)
    _, response = post(client, "tickets", [ticket_item(ticket("a", ticket_code="T-1"))], fmt)
    assert one(response, "customers", "customer", "ticket")["code"] == "T-1"
    code, response = post(client, "tickets", [ticket_item(ticket("b", ticket_code="T-1"))], fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1302


def test_tickets_get_filters(client: Any, fmt: str) -> None:
    insert(client, **JOHN)
    post(client, "tickets", [ticket_item(
        ticket("a", ticket_code="A1", status="OPEN", priority="HIGH", department="INTERNAL",
               reported_from="EMAIL", type="STORE"),
        ticket("b", ticket_code="B1", status="PENDING", priority="low", department="Sales",
               reported_from="CALLCENTER", type="Customer"))], fmt)
    mobile = f"mobile={JOHN['mobile']}"
    for query, expected in [("status=pending", ["B1"]), ("priority=high", ["A1"]),
                            ("priority=LOW", ["B1"]), ("department=sales", ["B1"]),
                            ("ticket_code=A1", ["A1"]), ("ticket_code=a1", []),
                            ("reported_from=CALLCENTER", ["B1"]), ("type=STORE", ["A1"]),
                            ("type=customer", ["B1"]), ("status=OPEN&type=Customer", []),
                            ("", ["A1", "B1"])]:
        code, response = get(client, "tickets", f"{mobile}&{query}", fmt)
        customer = one(response, "customer")
        assert code == 200 and code_of(customer) == 1300
        found = [t["code"] for t in listed(customer.get("tickets", {}).get("ticket"))] \
            if isinstance(customer.get("tickets"), dict) else []
        assert found == expected, query


def test_tickets_get_filters_by_created_time(client: Any, fmt: str) -> None:
    user_id = insert(client, **JOHN)
    for code, created in (("OLD", "2016-01-10 10:00:00"), ("MID", "2016-02-10 23:30:00"),
                          ("NEW", "2016-03-10 08:00:00")):
        add_record(client, user_id, "tickets", {"code": code, "status": "OPEN", "subject": code,
                                                "created_on": created})
    mobile = f"mobile={JOHN['mobile']}"
    for query, expected in [("start_date=2016-02-01", ["MID", "NEW"]),
                            ("end_date=2016-02-10", ["OLD", "MID"]),
                            ("start_date=2016-02-10+23:30:01", ["NEW"]),
                            ("start_date=2016-01-11&end_date=2016-03-01T00:00:00", ["MID"])]:
        _, response = get(client, "tickets", f"{mobile}&{query}", fmt)
        tickets = one(response, "customer").get("tickets")
        found = [t["code"] for t in listed(tickets["ticket"])] if isinstance(tickets, dict) else []
        assert found == expected, query


def test_tickets_batch_get_and_not_found(client: Any, fmt: str) -> None:
    insert(client, **JOHN)
    post(client, "tickets", [ticket_item()], fmt)
    code, response = get(client, "tickets", f"mobile={JOHN['mobile']},5559000001", fmt)
    customers = items_of(response, "customer")
    assert outcome(code, response) == SOME_FAILED
    assert [code_of(c) for c in customers] == [1300, 1012]
    code, response = post(client, "tickets", [ticket_item(mobile="5559000001")], fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1012
    code, response = post(client, "tickets", [ticket_item(id="987654")], fmt)
    customer = one(response, "customers", "customer")
    assert code_of(customer) == 1011 and customer["id"] == "987654"


# --- referrals -----------------------------------------------------------------------------

VIMAL = {"firstname": "Vimal", "lastname": "Sudhan", "mobile": "5551000003",
         "email": "vimal@sandbox.test", "external_id": "ENG-VS1",
         "registered_on": "2013-01-01 10:00:00"}


def invitation(*groups: tuple[str, list[tuple[str, str]]], token: str | None = None,
               **ids: str) -> dict[str, Any]:
    referrals: dict[str, Any] = {"referral_type": [
        {"type": kind, "referral": [
            {"id": str(n), "name": f"Invitee {n}", "identifier": identifier,
             "invited_on": invited_on} for n, (identifier, invited_on) in enumerate(refs, 1)]}
        for kind, refs in groups]}
    if token is not None:
        referrals = {"campaign_token": token, **referrals}
    return {**(ids or {"mobile": VIMAL["mobile"]}), "referrals": referrals}


EMAILS = ("EMAIL", [("dexter@sandbox.test", "2016-09-12T15:19:21+05:30"),
                    ("debra@sandbox.test", "2013-09-12T15:19:21+05:30")])
MOBILES = ("MOBILE", [("5551000009", "2016-09-12T15:19:21+05:30")])


def invitees(response: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    customer = one(response, "customer")
    if not isinstance(customer.get("invitees"), dict):
        return {}
    return {g["type"]: listed(g["invitee"]) for g in listed(customer["invitees"]["referral_type"])}


def test_referrals_add_gives_each_invitee_status_100(client: Any, fmt: str) -> None:
    user_id = insert(client, **VIMAL)
    code, response = post(client, "referrals", [invitation(EMAILS, MOBILES, token="12511")], fmt)
    assert code == 200
    customer = one(response, "customers", "customer")
    assert code_of(customer) == 1000 and customer["id"] == user_id
    groups = items_of(customer, "referrals", "referral_type")
    assert [g["type"] for g in groups] == ["EMAIL", "MOBILE"]
    referrals = [r for g in groups for r in listed(g["referral"])]
    assert [r["identifier"] for r in referrals] == [
        "dexter@sandbox.test", "debra@sandbox.test", "5551000009"]
    assert {r["status"]["code"] for r in referrals} == {"100"}
    assert referrals[0]["invited_on"] == "2016-09-12T15:19:21+05:30"
    assert len(records(client, user_id, "referrals")) == 3


def test_referrals_get_groups_invitees_by_type(client: Any, fmt: str) -> None:
    insert(client, **VIMAL)
    post(client, "referrals", [invitation(EMAILS, MOBILES)], fmt)
    code, response = get(client, "referrals", f"mobile={VIMAL['mobile']}", fmt)
    assert code == 200 and code_of(one(response, "customer")) == 1000
    groups = invitees(response)
    assert list(groups) == ["EMAIL", "MOBILE"]
    assert groups["EMAIL"][0] == {"identifier": "dexter@sandbox.test",
                                  "invited_on": "2016-09-12 15:19:21"}
    assert groups["MOBILE"] == [{"identifier": "5551000009",
                                 "invited_on": "2016-09-12 15:19:21", "success": "true"}]


def test_referrals_inviting_again_does_not_double(client: Any, fmt: str) -> None:
    user_id = insert(client, **VIMAL)
    post(client, "referrals", [invitation(EMAILS)], fmt)
    post(client, "referrals", [invitation(("EMAIL", [("dexter@sandbox.test",
                                                      "2017-01-01T10:00:00+05:30")]))], fmt)
    saved = records(client, user_id, "referrals")
    assert [d["identifier"] for d in saved] == ["dexter@sandbox.test",
                                                "debra@sandbox.test"]
    assert saved[0]["invited_on"] == "2017-01-01 10:00:00"


def test_referrals_referral_code_is_stable_per_customer(client: Any, fmt: str) -> None:
    user_id = insert(client, **VIMAL)
    other = insert(client, mobile="5551000005")
    query = f"mobile={VIMAL['mobile']}&only_referral_code=true"
    _, first = get(client, "referrals", query, fmt)
    _, second = get(client, "referrals", query, fmt)
    code = one(first, "customer")["referral_code"]
    assert re.fullmatch("[0-9A-Z]{5,6}", code)
    assert one(second, "customer")["referral_code"] == code
    assert "referral_code" not in stored(client, user_id)  # a GET writes nothing
    post(client, "referrals", [invitation(EMAILS)], fmt)
    assert stored(client, user_id)["referral_code"] == code
    _, response = get(client, "referrals", "mobile=5551000005", fmt)
    assert one(response, "customer")["referral_code"] not in ("", code)
    assert other != user_id


def test_referrals_stored_referral_code_wins(client: Any, fmt: str) -> None:
    insert(client, **VIMAL, referral_code="DJK39")
    _, response = get(client, "referrals", f"mobile={VIMAL['mobile']}", fmt)
    assert one(response, "customer")["referral_code"] == "DJK39"


def test_referrals_the_referrer_is_not_a_referee(client: Any, fmt: str) -> None:
    insert(client, **VIMAL)
    post(client, "referrals", [invitation(("EMAIL", [(VIMAL["email"], "2012-01-01T00:00:00Z")]))],
         fmt)
    _, response = get(client, "referrals", f"mobile={VIMAL['mobile']}", fmt)
    customer = one(response, "customer")
    assert "invitees" in customer and "referees" not in customer


def test_referrals_only_referral_code(client: Any, fmt: str) -> None:
    insert(client, **VIMAL)
    post(client, "referrals", [invitation(EMAILS)], fmt)
    _, response = get(client, "referrals", f"mobile={VIMAL['mobile']}&only_referral_code=true",
                      fmt)
    customer = one(response, "customer")
    assert "invitees" not in customer and customer["referral_code"]
    _, response = get(client, "referrals", f"mobile={VIMAL['mobile']}&only_referral_code=false",
                      fmt)
    assert "invitees" in one(response, "customer")


def test_referrals_default_campaign_is_12511(client: Any, fmt: str) -> None:
    insert(client, **VIMAL)
    post(client, "referrals", [invitation(EMAILS)], fmt)
    post(client, "referrals", [invitation(MOBILES, token="777")], fmt)
    base = f"mobile={VIMAL['mobile']}"
    _, response = get(client, "referrals", base, fmt)
    assert list(invitees(response)) == ["EMAIL"]
    _, response = get(client, "referrals", f"{base}&campaign_token=12511", fmt)
    assert list(invitees(response)) == ["EMAIL"]
    _, response = get(client, "referrals", f"{base}&campaign_token=777", fmt)
    assert list(invitees(response)) == ["MOBILE"]
    _, response = get(client, "referrals", f"{base}&campaign_token=888", fmt)
    assert invitees(response) == {} and code_of(one(response, "customer")) == 1000


def test_referrals_period_filters_invitees(client: Any, fmt: str) -> None:
    insert(client, **VIMAL)
    post(client, "referrals", [invitation(EMAILS)], fmt)
    base = f"mobile={VIMAL['mobile']}"
    _, response = get(client, "referrals", f"{base}&start_date=2014-01-01", fmt)
    assert [i["identifier"] for i in invitees(response)["EMAIL"]] == ["dexter@sandbox.test"]
    _, response = get(client, "referrals", f"{base}&end_date=2013-09-12", fmt)
    assert [i["identifier"] for i in invitees(response)["EMAIL"]] == [
        "debra@sandbox.test"]


def test_referrals_store_code_matches_the_till(client: Any, fmt: str) -> None:
    user_id = insert(client, **VIMAL)
    for identifier, shop in (("a@x.com", "store.till"), ("b@x.com", "till.cap.123")):
        add_record(client, user_id, "referrals", {
            "identifier": identifier, "invited_on": "2013-09-02 12:49:12",
            "till": {"code": shop, "name": shop}, "type": "EMAIL", "campaign_token": "12511"})
    base = f"mobile={VIMAL['mobile']}"
    for query, expected in (("store_code=store.till", ["a@x.com"]),
                            ("store_code=till.cap.123", ["b@x.com"]),
                            ("store_code=all", ["a@x.com", "b@x.com"]),
                            ("store_code=nowhere", [])):
        _, response = get(client, "referrals", f"{base}&{query}", fmt)
        found = [i["identifier"] for i in invitees(response).get("EMAIL", [])]
        assert found == expected, query


def test_referrals_invitee_till_is_the_authenticated_till(fmt: str) -> None:
    client = sandbox(auth="till.one:secret")
    user_id = insert(client, **VIMAL)
    headers = {"Authorization": expected_header("till.one:secret")}
    code, _ = post(client, "referrals", [invitation(EMAILS)], fmt, headers=headers)
    assert code == 200
    assert records(client, user_id, "referrals")[0]["till"] == {"code": "till.one",
                                                                "name": "till.one"}


def test_referrals_referees_are_invitees_who_registered(client: Any, fmt: str) -> None:
    insert(client, **VIMAL)
    post(client, "referrals", [invitation(EMAILS, ("MOBILE", [
        ("5551000007", "2016-09-12T15:19:21+05:30"),
        ("5551000008", "2016-09-12T15:19:21+05:30")]))], fmt)
    dexter = insert(client, firstname="Dexter", lastname="Morgan", email="dexter@sandbox.test",
                    mobile="5551000006", registered_on="2016-09-12 11:29:10")
    insert(client, firstname="Early", mobile="5551000008", registered_on="2016-09-11 23:00:00")
    arya = insert(client, firstname="Arya", mobile="5551000007",
                  registered_on="2017-01-01 00:00:00")
    add_record(client, arya, "transactions", {"id": "1", "number": "B1"})
    _, response = get(client, "referrals", f"mobile={VIMAL['mobile']}", fmt)
    referees = items_of(response, "customer", "referees", "referee")
    assert [(r["user_id"], r["event_type"]) for r in referees] == [
        (dexter, "REGISTRATION"), (arya, "TRANSACTION")]
    assert referees[0] == {"event_type": "REGISTRATION", "user_id": dexter,
                           "firstname": "Dexter", "lastname": "Morgan",
                           "email": "dexter@sandbox.test", "mobile": "5551000006",
                           "external_id": "", "added_on": "2016-09-12 11:29:10"}


def test_referrals_incentives_come_from_records(client: Any, fmt: str) -> None:
    user_id = insert(client, **VIMAL)
    add_record(client, user_id, "referral_incentives", {
        "name": "REGISTRATION", "campaign_token": "12511",
        "coupons": {"coupon": {"code": "DFI3KDL", "valid_till": "2014-01-12 19:10:40",
                               "value": "50"}}})
    _, response = get(client, "referrals", f"mobile={VIMAL['mobile']}", fmt)
    incentive = one(response, "customer", "incentives", "event_type")
    assert incentive["name"] == "REGISTRATION" and "campaign_token" not in incentive
    _, response = get(client, "referrals", f"mobile={VIMAL['mobile']}&campaign_token=1", fmt)
    assert "incentives" not in one(response, "customer")


def test_referrals_unsupported_type_is_rejected_by_validation(client: Any, fmt: str) -> None:
    insert(client, **VIMAL)
    code, _ = post(client, "referrals", [invitation(("FACEBOOK", [("x", "")]))], fmt)
    assert code == 400  # so 1206 cannot occur


def test_referrals_not_found(client: Any, fmt: str) -> None:
    code, response = post(client, "referrals", [invitation(EMAILS, mobile="5559000003")], fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1012
    code, response = post(client, "referrals", [invitation(EMAILS, id="987654")], fmt)
    assert code_of(one(response, "customers", "customer")) == 1011
    code, response = get(client, "referrals", "email=nobody@sandbox.test", fmt)
    assert outcome(code, response) == ALL_FAILED and code_of(one(response, "customer")) == 1012


# --- preferences ---------------------------------------------------------------------------

TOM = {"firstname": "Tom", "mobile": "5551000004", "email": "tom@sandbox.test",
       "external_id": "ENG-TS1"}


def preferences(*pairs: tuple[str, str], **extra: Any) -> dict[str, Any]:
    ids = {k: extra.pop(k) for k in ("mobile", "email", "external_id", "user_id") if k in extra}
    return {**(ids or {"mobile": TOM["mobile"]}), **extra,
            "custom_fields": {"field": [{"name": n, "value": v} for n, v in pairs]}}


def test_preferences_update_merges_by_name(client: Any, fmt: str) -> None:
    user_id = insert(client, **TOM)
    post(client, "preferences", [preferences(("Favorite Brand", "Puma"), ("Likes", "Shoes"))], fmt)
    code, response = post(client, "preferences", [preferences(
        ("favorite brand", "Nike"), ("Favorite Color", "Green"),
        store={"code": "store.code", "id": "2234235"})], fmt)
    assert code == 200
    customer = one(response, "customers", "customer")
    assert code_of(customer) == 1000 and customer["user_id"] == user_id
    assert items_of(customer, "custom_fields", "field") == [
        {"name": "favorite brand", "value": "Nike"}, {"name": "Favorite Color", "value": "Green"}]
    assert customer["store"] == {"id": "2234235", "code": "store.code", "status": "SUCCESS"}
    assert stored(client, user_id)["preferences"] == [
        {"name": "favorite brand", "value": "Nike"}, {"name": "Likes", "value": "Shoes"},
        {"name": "Favorite Color", "value": "Green"}]
    code, response = get(client, "preferences", f"mobile={TOM['mobile']}", fmt)
    customer = one(response, "customers", "customer")
    assert code == 200 and code_of(customer) == 1000
    assert [f["name"] for f in items_of(customer, "custom_fields", "field")] == [
        "favorite brand", "Likes", "Favorite Color"]


def test_preferences_update_without_store_has_no_store_block(client: Any, fmt: str) -> None:
    insert(client, **TOM)
    _, response = post(client, "preferences", [preferences(("Likes", "Shoes"))], fmt)
    assert "store" not in one(response, "customers", "customer")


def test_preferences_field_without_a_name_is_1017(client: Any, fmt: str) -> None:
    user_id = insert(client, **TOM)
    code, response = post(client, "preferences", [preferences(("", "Shoes"), ("Likes", "Hats"))],
                          fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1017
    assert "preferences" not in stored(client, user_id)


def test_preferences_get_without_preferences_is_1031(client: Any, fmt: str) -> None:
    insert(client, **TOM)
    code, response = get(client, "preferences", f"external_id={TOM['external_id']}", fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "customers", "customer")) == 1031


def test_preferences_get_shows_user_id_only_when_asked(client: Any, fmt: str) -> None:
    user_id = insert(client, **TOM)
    post(client, "preferences", [preferences(("Likes", "Shoes"))], fmt)
    _, response = get(client, "preferences", f"mobile={TOM['mobile']}", fmt)
    assert "user_id" not in one(response, "customers", "customer")
    _, response = get(client, "preferences", f"mobile={TOM['mobile']}&user_id=true", fmt)
    assert one(response, "customers", "customer")["user_id"] == user_id


def test_preferences_batch_and_not_found(client: Any, fmt: str) -> None:
    insert(client, **TOM)
    code, response = post(client, "preferences", [
        preferences(("Likes", "Shoes")), preferences(("Likes", "Hats"), mobile="5559000002"),
        preferences(("Likes", "Hats"), user_id="987654")], fmt)
    customers = items_of(response, "customers", "customer")
    assert outcome(code, response) == SOME_FAILED
    assert [code_of(c) for c in customers] == [1000, 1012, 1011]
    code, response = get(client, "preferences", f"mobile={TOM['mobile']},5559000002", fmt)
    customers = items_of(response, "customers", "customer")
    assert outcome(code, response) == SOME_FAILED
    assert [code_of(c) for c in customers] == [1000, 1012]


# --- subscriptions -------------------------------------------------------------------------

def subscription(channel: str = "email", priority: str = "bulk", is_subscribed: str = "0",
                 **ids: str) -> dict[str, Any]:
    return {**(ids or {"email": TOM["email"]}), "priority": priority, "scope": "all",
            "channel": channel, "is_subscribed": is_subscribed}


def preferences_of(response: dict[str, Any]) -> dict[tuple[str, str], str]:
    subscription = one(response, "subscriptions", "subscription")
    return {(c["name"], p["name"]): p["user_preference"]
            for c in listed(subscription["channel"]) for p in listed(c["priority"])}


def test_subscriptions_update_each_item(client: Any, fmt: str) -> None:
    user_id = insert(client, **TOM)
    code, response = post(client, "subscriptions", [
        subscription("email"), subscription("sms", "trans", "1", mobile=TOM["mobile"])],
        fmt, key="subscription")
    assert code == 200
    items = items_of(response, "subscriptions", "subscription")
    assert [code_of(i) for i in items] == [1000, 1000]
    assert {k: v for k, v in items[0].items() if k != "item_status"} == {
        "user_id": user_id, "email": TOM["email"], "channel": "EMAIL", "priority": "BULK",
        "scope": "ALL", "is_subscribed": "0"}
    assert "email" not in items[1] and items[1]["mobile"] == TOM["mobile"]
    assert stored(client, user_id)["subscriptions"] == [
        {"channel": "EMAIL", "priority": "BULK", "scope": "ALL", "is_subscribed": "0"},
        {"channel": "SMS", "priority": "TRANS", "scope": "ALL", "is_subscribed": "1"}]


def test_subscriptions_later_choice_replaces_earlier(client: Any, fmt: str) -> None:
    user_id = insert(client, **TOM)
    post(client, "subscriptions", [subscription("email", "bulk", "0"),
                                   subscription("EMAIL", "BULK", "1")], fmt, key="subscription")
    assert stored(client, user_id)["subscriptions"] == [
        {"channel": "EMAIL", "priority": "BULK", "scope": "ALL", "is_subscribed": "1"}]


def test_subscriptions_item_failures(client: Any, fmt: str) -> None:
    insert(client, **TOM)
    code, response = post(client, "subscriptions", [
        subscription(), subscription("fax"), subscription(priority="urgent"),
        subscription(is_subscribed="2"), subscription(email="nobody@sandbox.test"),
        subscription(user_id="987654"), {k: v for k, v in subscription().items() if k != "email"},
        subscription(mobile="12ab")], fmt, key="subscription")
    items = items_of(response, "subscriptions", "subscription")
    assert outcome(code, response) == SOME_FAILED
    assert [code_of(i) for i in items] == [1000, 1101, 1102, 1106, 1012, 1011, 1104, 1104]
    assert "mobile" not in items[-1]  # a malformed identifier is not echoed


def test_subscriptions_get_shows_every_channel_and_priority(client: Any, fmt: str) -> None:
    user_id = insert(client, **TOM)
    code, response = get(client, "subscriptions", f"mobile={TOM['mobile']}", fmt)
    assert code == 200
    subscription_node = one(response, "subscriptions", "subscription")
    assert code_of(subscription_node) == 1000 and subscription_node["user_id"] == user_id
    assert preferences_of(response) == {(c, p): "NOT_SET" for c in ("EMAIL", "SMS", "ANDROID",
                                                                   "IOS")
                                        for p in ("TRANS", "BULK")}
    post(client, "subscriptions", [subscription("email", "bulk", "0"),
                                   subscription("sms", "trans", "1"),
                                   subscription("wechat", "trans", "1")], fmt, key="subscription")
    _, response = get(client, "subscriptions", f"email={TOM['email']}", fmt)
    seen = preferences_of(response)
    assert seen[("EMAIL", "BULK")] == "UNSUBSCRIBED" and seen[("EMAIL", "TRANS")] == "NOT_SET"
    assert seen[("SMS", "TRANS")] == "SUBSCRIBED" and seen[("WECHAT", "TRANS")] == "SUBSCRIBED"
    channels = [c["name"] for c in listed(one(response, "subscriptions",
                                              "subscription")["channel"])]
    assert channels == ["EMAIL", "SMS", "ANDROID", "IOS", "WECHAT"]


def test_subscriptions_get_filters(client: Any, fmt: str) -> None:
    insert(client, **TOM)
    post(client, "subscriptions", [subscription("sms", "trans", "1")], fmt, key="subscription")
    base = f"mobile={TOM['mobile']}"
    _, response = get(client, "subscriptions", f"{base}&channel=sms", fmt)
    assert preferences_of(response) == {("SMS", "TRANS"): "SUBSCRIBED", ("SMS", "BULK"): "NOT_SET"}
    _, response = get(client, "subscriptions", f"{base}&priority=TRANS", fmt)
    assert set(preferences_of(response)) == {(c, "TRANS") for c in ("EMAIL", "SMS", "ANDROID",
                                                                    "IOS")}
    _, response = get(client, "subscriptions", f"{base}&channel=SMS&priority=trans&scope=ALL",
                      fmt)
    assert preferences_of(response) == {("SMS", "TRANS"): "SUBSCRIBED"}
    _, response = get(client, "subscriptions", f"{base}&channel=wechat", fmt)
    assert preferences_of(response) == {("WECHAT", "TRANS"): "NOT_SET",
                                        ("WECHAT", "BULK"): "NOT_SET"}


def test_subscriptions_get_batch_and_not_found(client: Any, fmt: str) -> None:
    user_id = insert(client, **TOM)
    code, response = get(client, "subscriptions", f"user_id={user_id},987654", fmt)
    items = items_of(response, "subscriptions", "subscription")
    assert outcome(code, response) == SOME_FAILED and [code_of(i) for i in items] == [1000, 1011]
    code, response = get(client, "subscriptions", "mobile=5559000002", fmt)
    assert outcome(code, response) == ALL_FAILED
    assert code_of(one(response, "subscriptions", "subscription")) == 1012

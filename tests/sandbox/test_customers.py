"""Sandbox rules of customer/add, update, update_identity, get (both formats)."""

from __future__ import annotations

import pytest
from sandboxhelpers import ADMIN, code_of, decode, get, listed, post, request_code, sandbox

from capmock.openapi import contract

FORMATS = ("json", "xml")
pytestmark = pytest.mark.usefixtures("both_stores")  # SQLite and PostgreSQL


def customer(mobile: str, **more: str) -> dict:
    return {"mobile": mobile, **more}


def items(response: dict, *path: str) -> list[dict]:
    node = response
    for key in path or ("customers", "customer"):
        node = node[key]
    return listed(node)


def strict(op_id: str, response: dict, fmt: str) -> None:
    """Valid under the strict profile; in JSON also on the platform's wire (the default)."""
    wire = "platform" if fmt == "json" else None
    assert contract.json_errors(op_id, "response", {"response": response}, "strict",
                                wire=wire) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_registered_customer_is_read_back(fmt: str) -> None:
    c = sandbox()
    status, answer = post(c, "add", [customer("919000000001", email="a@example.com",
                                              firstname="Asha", external_id="X1")], fmt)
    assert status == 200 and code_of(items(answer)[0]) == 1000
    strict("customer_add", answer, fmt)
    user_id = items(answer)[0]["user_id"]
    status, answer = get(c, "get", "email=A@EXAMPLE.COM&user_id=true", fmt)
    got = items(answer)[0]
    assert status == 200 and (got["user_id"], got["firstname"], got["external_id"]) == \
        (user_id, "Asha", "X1")
    strict("customer_get", answer, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_add_with_a_known_identifier_updates_details_and_fills_null_ids(fmt: str) -> None:
    c = sandbox()
    post(c, "add", [customer("919000000001", firstname="Asha")], fmt)
    status, answer = post(c, "add", [customer("919000000001", lastname="Rao", email="a@x.io",
                                              firstname="")], fmt)
    got = items(answer)[0]
    assert status == 200 and (got["firstname"], got["lastname"], got["email"]) == \
        ("Asha", "Rao", "a@x.io")
    _, answer = get(c, "search", "q=mobile:EQUALS:919000000001", fmt)
    assert answer["customer"]["count"] == "1"  # updated, not registered twice


def test_set_identifiers_never_change_through_add() -> None:
    c = sandbox()
    post(c, "add", [customer("919000000001", email="first@x.io")])
    _, answer = post(c, "add", [customer("919000000001", email="second@x.io")])
    assert items(answer)[0]["email"] == "first@x.io"
    _, answer = get(c, "get", "email=second@x.io")
    assert code_of(items(answer)[0]) == 1012


@pytest.mark.parametrize(("taken", "code"), [("email", 1016), ("external_id", 1033)])
def test_identifier_of_another_customer_fails_the_item(taken: str, code: int) -> None:
    """The item is the customer its mobile names; another's email or external id fails it."""
    c = sandbox()
    post(c, "add", [{"mobile": "919000000001", "email": "a@x.io", "external_id": "A"},
                    {"mobile": "919000000002", "email": "b@x.io", "external_id": "B"}])
    other = {"email": "b@x.io", "external_id": "B"}
    status, answer = post(c, "add", [{"mobile": "919000000001", taken: other[taken]}])
    assert (status, request_code(answer), code_of(items(answer)[0])) == (200, 500, code)
    assert code_of(items(get(c, "get", f"{taken}={other[taken]}&user_id=true")[1])[0]) == 1000


@pytest.mark.parametrize(("rule", "item", "code"), [
    ("mobile|email", {"external_id": "E1"}, 1045),
    ("mobile", {"email": "a@x.io"}, 1006),
    ("email", {"mobile": "919000000001"}, 1039),
    ("external_id", {"mobile": "919000000001"}, 1043),
    ("mobile|external_id", {"email": "a@x.io"}, 1019),
    ("mobile,email", {"mobile": "919000000001"}, 1039),
])
def test_mandatory_identifiers_follow_the_registration_configuration(
        rule: str, item: dict, code: int) -> None:
    status, answer = post(sandbox(required_identifiers=rule), "add", [item])
    assert (status, request_code(answer), code_of(items(answer)[0])) == (200, 500, code)


def test_no_mandatory_identifier_when_configured_empty() -> None:
    status, _ = post(sandbox(required_identifiers=""), "add", [{"external_id": "E1"}])
    assert status == 200


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_item_fails_alone_and_the_batch_goes_on(fmt: str) -> None:
    c = sandbox()
    batch = [customer("919000000001"), customer("12ab"), {"email": "not-an-email",
                                                          "mobile": "919000000003"}]
    status, answer = post(c, "add", batch, fmt)
    codes = [code_of(i) for i in items(answer)]
    assert (status, request_code(answer), codes) == (200, 201, [1000, 1001, 1002])
    strict("customer_add", answer, fmt)
    _, found = get(c, "get", "mobile=919000000001,919000000003", fmt)
    assert [code_of(i) for i in items(found)] == [1000, 1012]


@pytest.mark.parametrize(("registered_on", "code"), [
    ("2099-01-01 00:00:00", 1034), ("1900-01-01 00:00:00", 1034), ("0000-00-00 00:00:00", 1034),
    ("2020-13-28 95:44:73", 1034), ("2020-05-05 10:00:00", 1000)])
def test_registered_on_must_be_within_the_window(registered_on: str, code: int) -> None:
    _, answer = post(sandbox(), "add", [customer("919000000001", registered_on=registered_on)])
    assert code_of(items(answer)[0]) == code


def test_batch_over_the_limit_is_1060() -> None:
    status, answer = post(sandbox(batch_limit=2), "add",
                          [customer(f"91900000000{i}") for i in range(3)])
    assert (status, request_code(answer)) == (200, 500)
    assert {code_of(i) for i in items(answer)} == {1060}


@pytest.mark.parametrize("fmt", FORMATS)
def test_update_merges_profile_custom_and_extended_fields(fmt: str) -> None:
    c = sandbox()
    post(c, "add", [customer("919000000001", firstname="A", custom_fields={"field": [
        {"name": "color", "value": "red"}, {"name": "size", "value": "M"}]})], fmt)
    status, answer = post(c, "update", [customer("919000000001", lastname="B", custom_fields={
        "field": {"name": "Color", "value": "blue"}}, extended_fields={
        "field": {"name": "city", "value": "Pune"}})], fmt)
    assert status == 200
    strict("customer_update", answer, fmt)
    _, answer = get(c, "get", "mobile=919000000001", fmt)
    got = items(answer)[0]
    fields = {f["name"].lower(): f["value"] for f in listed(got["custom_fields"]["field"])}
    assert (got["firstname"], got["lastname"], fields) == ("A", "B", {"color": "blue",
                                                                      "size": "M"})
    assert listed(got["extended_fields"]["field"]) == [{"name": "city", "value": "Pune"}]


@pytest.mark.parametrize(("item", "code"), [({"mobile": "919999999999"}, 1012),
                                            ({"user_id": "99999999"}, 1011)])
def test_update_of_an_unknown_customer(item: dict, code: int) -> None:
    status, answer = post(sandbox(), "update", [item])
    assert (status, request_code(answer), code_of(items(answer)[0])) == (200, 500, code)


@pytest.mark.parametrize(("allowed", "email"), [(False, "old@x.io"), (True, "new@x.io")])
def test_update_changes_a_set_email_only_when_configured(allowed: bool, email: str) -> None:
    c = sandbox(allow_email_update=allowed)
    post(c, "add", [customer("919000000001", email="old@x.io")])
    post(c, "update", [customer("919000000001", email="new@x.io")])
    _, answer = get(c, "get", "mobile=919000000001")
    assert items(answer)[0]["email"] == email


@pytest.mark.parametrize("allowed", [False, True])
def test_update_cannot_take_another_customers_mobile(allowed: bool) -> None:
    """Filling a null mobile (always allowed) or changing one: 1032 if it is taken."""
    c = sandbox(allow_mobile_update=allowed)
    _, added = post(c, "add", [{"email": "a@x.io"}, customer("919000000002")])
    user_id = items(added)[0]["user_id"]
    _, answer = post(c, "update", [{"user_id": user_id, "mobile": "919000000002"}])
    assert code_of(items(answer)[0]) == 1032


@pytest.mark.parametrize("fmt", FORMATS)
def test_identity_change_is_pending_until_the_back_office_approves(fmt: str) -> None:
    c = sandbox()
    post(c, "add", [customer("919000000001")])
    change = {"identifier": "mobile", "old_value": "919000000001", "new_value": "919000000009"}
    status, answer = post(c, "update_identity", [change], fmt)
    assert status == 200 and code_of(items(answer)[0]) == 1040
    strict("customer_update_identity", answer, fmt)
    assert code_of(items(get(c, "get", "mobile=919000000009")[1])[0]) == 1012  # pending
    pending = c.get("/__capmock/sandbox/identity_changes").get_json()
    assert [p["state"] for p in pending] == ["PENDING"]
    url = f"/__capmock/sandbox/identity_changes/{pending[0]['id']}"
    decided = c.post(f"{url}/approve", headers=ADMIN)
    assert decided.status_code == 200 and decided.get_json()["state"] == "APPROVED"
    assert code_of(items(get(c, "get", "mobile=919000000009")[1])[0]) == 1000
    again = c.post(f"{url}/reject", headers=ADMIN)
    assert again.status_code == 404  # decided already


def test_rejected_identity_change_changes_nothing() -> None:
    c = sandbox()
    post(c, "add", [customer("919000000001")])
    post(c, "update_identity", [{"identifier": "mobile", "old_value": "919000000001",
                                 "new_value": "919000000009"}])
    change = c.get("/__capmock/sandbox/identity_changes").get_json()[0]
    url = f"/__capmock/sandbox/identity_changes/{change['id']}/reject"
    assert c.post(url, headers=ADMIN).status_code == 200
    assert code_of(items(get(c, "get", "mobile=919000000001")[1])[0]) == 1000


@pytest.mark.parametrize(("change", "code"), [
    ({"identifier": "mobile", "old_value": "919000000005", "new_value": "919000000009"}, 1012),
    ({"identifier": "mobile", "old_value": "919000000001", "new_value": "919000000002"}, 1041),
    ({"identifier": "email", "old_value": "a@x.io", "new_value": "not-an-email"}, 1042),
])
def test_identity_change_failures(change: dict, code: int) -> None:
    c = sandbox()
    post(c, "add", [customer("919000000001", email="a@x.io"), customer("919000000002")])
    status, answer = post(c, "update_identity", [change])
    assert (status, request_code(answer), code_of(items(answer)[0])) == (200, 500, code)


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_many_identifiers_with_one_unknown(fmt: str) -> None:
    c = sandbox()
    post(c, "add", [customer("919000000001"), customer("919000000002")])
    status, answer = get(c, "get", "mobile=919000000001,919000000404,919000000002", fmt)
    assert (status, request_code(answer)) == (200, 201)
    assert [code_of(i) for i in items(answer)] == [1000, 1012, 1000]
    assert (answer["status"]["total"], answer["status"]["success_count"]) == ("3", "2")
    strict("customer_get", answer, fmt)


def test_get_sections_and_user_id_follow_the_parameters() -> None:
    c = sandbox()
    shown = items(get(c, "get", "mobile=19889999999")[1])[0]
    assert "registered_store" in shown and "user_id" not in shown
    hidden = items(get(c, "get", "mobile=19889999999&registered_store=false&user_id=true")[1])[0]
    assert "registered_store" not in hidden and "registered_till" in hidden
    assert hidden["user_id"].isdigit()


@pytest.mark.parametrize("fmt", FORMATS)
def test_prefer_code_still_forces_a_documented_error(fmt: str) -> None:
    c = sandbox()
    answer = c.get(f"/v1.1/customer/get?format={fmt}&mobile=19889999999",
                   headers={"Prefer": "code=1013"})
    response = decode(answer.data, fmt)["response"]
    assert (answer.status_code, request_code(response)) == (200, 500)  # an item-level failure
    assert [code_of(i) for i in items(response)] == [1013]

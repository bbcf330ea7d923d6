"""Sandbox customer/transactions, redemptions, coupons and interaction: every
filter, limit, sort and order, in JSON and XML (mockserver/sandbox/history.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sandboxhelpers import ALL_FAILED, SOME_FAILED, code_of, decode, listed, outcome, sandbox

from capmock.mockserver.sandbox import transfer
from capmock.openapi.contract import json_errors, xml_errors

FORMATS = ("json", "xml")
PATHS = {"transactions": "customer_transactions", "redemptions": "customer_redemptions",
         "coupons": "customer_coupons", "interaction": "customer_interaction"}
MOBILE = "919100000001"
OTHER = "919100000002"


@pytest.fixture(params=FORMATS)
def fmt(request: pytest.FixtureRequest) -> str:
    return request.param


def load(c: Any, *customers: dict[str, Any]) -> None:
    store = c.application.extensions["capmock"].sandbox.store
    with store.transaction(write=True) as tx:
        transfer.load(tx, {"customers": list(customers)})


def ask(c: Any, path: str, query: str, fmt: str) -> tuple[int, dict[str, Any]]:
    """GET customer/<path>; the answer must validate strictly (XML: XSD and data; JSON: also
    on the platform's wire, the default)."""
    answer = c.get(f"/v1.1/customer/{path}?format={fmt}&{query}")
    op_id = PATHS[path]
    if fmt == "xml":
        assert xml_errors(op_id, "response", answer.data, "strict") == []
    data = decode(answer.data, fmt)
    wire = "platform" if fmt == "json" else None
    assert json_errors(op_id, "response", data, "strict", wire=wire) == []
    return answer.status_code, data["response"]


def only(node: Any) -> dict[str, Any]:
    items = listed(node)
    assert len(items) == 1, items
    return items[0]


def ids(node: Any, *path: str) -> list[str]:
    for key in path:
        node = node[key] if isinstance(node, dict) else ""
    return [item["id"] for item in listed(node)]


# --- customer/transactions ------------------------------------------------------------

def transaction(tid: str, when: str, amount: str, store: tuple[str, str, str],
                till: tuple[str, str, str], kind: str = "REGULAR") -> dict[str, Any]:
    return {"id": tid, "number": f"N{tid}", "type": kind, "amount": amount,
            "billing_time": when, "store": store[1], "store_id": store[0],
            "store_code": store[2], "till_id": till[0], "till_name": till[1],
            "till_code": till[2], "points": {"issued": "1", "redeemed": "0"}}


ALPHA, BETA = ("1", "Alpha", "a1"), ("2", "Beta", "b2")
SEVEN, EIGHT = ("7", "Till Seven", "t7"), ("8", "Till Eight", "t8")
TRANSACTIONS = [
    transaction("11", "2020-01-01 10:00:00", "100", ALPHA, SEVEN),
    transaction("12", "2020-02-01 10:00:00", "250.50", BETA, EIGHT),
    transaction("13", "2020-03-01 10:00:00", "100", ALPHA, SEVEN, kind="RETURN"),
    transaction("9", "2020-04-01 10:00:00", "75", ALPHA, SEVEN),
]
DEFAULT_ORDER = ["9", "12", "11"]  # newest first, the credit note (RETURN) left out


def customer(mobile: str, kind: str, docs: list[dict[str, Any]], **more: Any) -> dict:
    return {"mobile": mobile, "firstname": "Asha", "email": f"{mobile}@example.com",
            "records": {kind: docs}, **more}


@pytest.fixture
def shop() -> Any:
    c = sandbox()
    load(c, customer(MOBILE, "transactions", TRANSACTIONS, lifetime_points="40"),
         customer(OTHER, "transactions", TRANSACTIONS[:1]))
    return c


@pytest.mark.parametrize(("query", "expected"), [
    ("", DEFAULT_ORDER),
    ("start_date=2020-01-15", ["9", "12"]),
    ("end_date=2020-02-01", ["12", "11"]),  # a date alone ends with the day
    ("start_date=2020-01-15+00:00:00&end_date=2020-03-15+00:00:00", ["12"]),
    ("end_date=2020-02-01+09:59:59", ["11"]),
    ("transaction_id=12", ["12"]),
    ("transaction_date=2020-02-01", ["12"]),
    ("amount=100", ["11"]),
    ("amount=250.5", ["12"]),
    ("number=N9", ["9"]),
    ("till_id=8", ["12"]),
    ("till_name=till+seven", ["9", "11"]),
    ("till_code=t8", ["12"]),
    ("store_id=2", ["12"]),
    ("store_name=Beta", ["12"]),
    ("store_code=B2", ["12"]),
    ("start_id=11", ["12", "11"]),
    ("end_id=11", ["9", "11"]),
    ("credit_notes=true", ["9", "13", "12", "11"]),
    ("credit_notes=false", DEFAULT_ORDER),
    ("limit=2", ["9", "12"]),
    ("sort=trans_id", ["12", "11", "9"]),
    ("order=asc", ["11", "12", "9"]),
    ("sort=trans_id&order=asc", ["9", "11", "12"]),
    ("sort=trans_date&order=desc&limit=1", ["9"]),
])
def test_transactions_filters_sort_and_limit(shop: Any, fmt: str, query: str,
                                             expected: list[str]) -> None:
    status, answer = ask(shop, "transactions", f"mobile={MOBILE}&{query}", fmt)
    got = only(answer["customer"])
    assert status == 200 and code_of(got) == 1000
    assert ids(got, "transactions", "transaction") == expected


def test_transactions_custom_fields_flag_is_accepted(shop: Any, fmt: str) -> None:
    """The Transaction element has no custom fields: the flag changes nothing."""
    status, answer = ask(shop, "transactions", f"mobile={MOBILE}&custom_fields=true", fmt)
    assert status == 200
    assert ids(only(answer["customer"]), "transactions", "transaction") == DEFAULT_ORDER


def test_transactions_counts_come_from_the_data(shop: Any, fmt: str) -> None:
    _, answer = ask(shop, "transactions", f"mobile={MOBILE}&limit=2&order=asc", fmt)
    got = only(answer["customer"])
    assert (got["count"], got["rows"], got["start"]) == ("3", "2", "11")
    points = 40 if fmt == "json" else "40"  # the platform's JSON writes points as numbers (D111)
    assert (got["firstname"], got["lifetime_points"]) == ("Asha", points)
    shown = listed(got["transactions"]["transaction"])[0]
    assert "till_code" not in shown and "store_id" not in shown  # filter-only fields
    assert shown["store"] == "Alpha" and shown["points"] == {"issued": "1", "redeemed": "0"}


def test_transactions_empty_window(shop: Any, fmt: str) -> None:
    _, answer = ask(shop, "transactions", f"mobile={MOBILE}&start_date=2021-01-01", fmt)
    got = only(answer["customer"])
    assert (got["count"], got["rows"], got["start"]) == ("0", "0", "")
    assert ids(got, "transactions", "transaction") == []


def test_transactions_of_several_customers(shop: Any, fmt: str) -> None:
    status, answer = ask(shop, "transactions",
                         f"mobile={MOBILE},919100000404,{OTHER}&transaction_id=11", fmt)
    got = listed(answer["customer"])
    assert outcome(status, answer) == SOME_FAILED
    assert [code_of(i) for i in got] == [1000, 1012, 1000]
    assert [ids(i, "transactions", "transaction") for i in (got[0], got[2])] == [["11"], ["11"]]
    assert got[1]["mobile"] == "919100000404" and "transactions" not in got[1]
    status, answer = ask(shop, "transactions", "mobile=919100000404", fmt)
    assert outcome(status, answer) == ALL_FAILED and code_of(only(answer["customer"])) == 1012


def test_transactions_by_user_id_shows_it(shop: Any, fmt: str) -> None:
    _, answer = ask(shop, "transactions", f"mobile={MOBILE}", fmt)
    assert "user_id" not in only(answer["customer"])
    store = shop.application.extensions["capmock"].sandbox.store
    with store.transaction() as tx:
        wanted = tx.customer("mobile", MOBILE).user_id
    status, answer = ask(shop, "transactions", f"user_id={wanted},999999", fmt)
    got = listed(answer["customer"])
    assert outcome(status, answer) == SOME_FAILED
    assert got[0]["user_id"] == wanted and code_of(got[0]) == 1000
    assert code_of(got[1]) == 1011 and got[1]["user_id"] == "999999"


# --- customer/redemptions -------------------------------------------------------------

def coupon_use(rid: str, when: str) -> dict[str, str]:
    return {"id": rid, "code": f"C{rid}", "series_id": "832", "description": "d",
            "discount_code": "abc", "discount_type": "PERC", "transaction_number": f"B{rid}",
            "redeemed_time": when, "redeemed_at": "Store"}


def points_use(rid: str, when: str) -> dict[str, str]:
    return {"id": rid, "points_redeemed": "200", "transaction_number": f"P{rid}",
            "redeemed_time": when, "redeemed_at": "Store"}


@pytest.fixture
def redeemer() -> Any:
    c = sandbox()
    doc = customer(MOBILE, "coupon_redemptions", [
        coupon_use("5", "2020-01-01 10:00:00"), coupon_use("6", "2020-03-01 10:00:00"),
        coupon_use("7", "2020-02-01 10:00:00")])
    doc["records"]["point_redemptions"] = [points_use("50", "2020-01-15 10:00:00"),
                                           points_use("51", "2020-02-15 10:00:00")]
    load(c, doc, customer(OTHER, "point_redemptions", [points_use("60", "2020-01-01 00:00:00")]))
    return c


def redeemed(answer: dict[str, Any]) -> tuple[list[str] | None, list[str] | None]:
    got = only(answer["customer"])
    node = got["redemptions"] or {}
    return (ids(node, "coupons", "coupon") if "coupons" in node else None,
            ids(node, "points", "point") if "points" in node else None)


@pytest.mark.parametrize(("query", "coupons", "points"), [
    ("", ["6", "7", "5"], ["51", "50"]),
    ("type=coupons", ["6", "7", "5"], None),
    ("type=points", None, ["51", "50"]),
    ("start_date=2020-02-01", ["6", "7"], ["51"]),
    ("end_date=2020-01-31", ["5"], ["50"]),
    ("start_date=2020-01-15+10:00:00&end_date=2020-02-15+09:00:00", ["7"], ["50"]),
    ("coupons_limit=1", ["6"], ["51", "50"]),
    ("points_limit=1", ["6", "7", "5"], ["51"]),
    ("limit=2", ["6"], ["51"]),
    ("limit=3&order=asc", ["5", "7"], ["50"]),
    ("coupons_start_id=6", ["6", "7"], ["51", "50"]),
    ("coupons_end_id=6", ["6", "5"], ["51", "50"]),
    ("points_start_id=51", ["6", "7", "5"], ["51"]),
    ("points_end_id=50", ["6", "7", "5"], ["50"]),
    ("order=asc", ["5", "7", "6"], ["50", "51"]),
    ("sort=redemption_id", ["7", "6", "5"], ["51", "50"]),
    ("sort=redemption_id&order=asc", ["5", "6", "7"], ["50", "51"]),
    ("sort=redeemed_time&order=desc", ["6", "7", "5"], ["51", "50"]),
    ("type=points&points_limit=1&order=asc", None, ["50"]),
])
def test_redemptions_filters_sort_and_limits(redeemer: Any, fmt: str, query: str,
                                             coupons: list[str] | None,
                                             points: list[str] | None) -> None:
    status, answer = ask(redeemer, "redemptions", f"mobile={MOBILE}&{query}", fmt)
    assert status == 200 and code_of(only(answer["customer"])) == 1000
    assert redeemed(answer) == (coupons, points)


def test_redemptions_counts_come_from_the_data(redeemer: Any, fmt: str) -> None:
    _, answer = ask(redeemer, "redemptions", f"mobile={MOBILE}&coupons_limit=1", fmt)
    got = only(answer["customer"])
    assert (got["rows"], got["coupons_count"], got["points_count"]) == ("3", "3", "2")
    assert (got["coupons_start_id"], got["points_start_id"]) == ("5", "49")
    _, answer = ask(redeemer, "redemptions", f"mobile={MOBILE}&type=points", fmt)
    got = only(answer["customer"])
    assert (got["rows"], got["points_count"]) == ("2", "2") and "coupons_count" not in got


def test_redemptions_of_several_customers(redeemer: Any, fmt: str) -> None:
    status, answer = ask(redeemer, "redemptions",
                         f"mobile={OTHER},919100000404,{MOBILE}&type=points", fmt)
    got = listed(answer["customer"])
    assert outcome(status, answer) == SOME_FAILED
    assert [code_of(i) for i in got] == [1000, 1012, 1000]
    assert ids(got[0]["redemptions"], "points", "point") == ["60"]
    status, answer = ask(redeemer, "redemptions", "email=nobody@example.com", fmt)
    assert outcome(status, answer) == ALL_FAILED and code_of(only(answer["customer"])) == 1012


# --- customer/coupons -------------------------------------------------------------------

def issued(cid: str, created: str, valid_till: str, series: str, amount: str,
           uses: int = 0, stores: list[str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": cid, "redemption_count": "5", "created_date": f"{created}T10:00:00+05:30",
        "valid_till": valid_till, "code": f"VOC{cid}", "transaction_number": f"B{cid}",
        "series_id": series, "amount": amount}
    if uses:
        doc["redemptions"] = {"redemption": [
            {"date": "2020-06-01 10:00:00", "transaction_number": f"R{cid}-{n}",
             "redeemed_at": {"code": "s1", "name": "Store"}} for n in range(uses)]}
    if stores is not None:
        doc["store_ids"] = stores
    return doc


@pytest.fixture
def holder() -> Any:
    c = sandbox()
    load(c, customer(MOBILE, "coupons", [
        issued("101", "2020-01-01", "2999-12-31", "10", "50", stores=["1"]),
        issued("102", "2020-02-01", "2001-01-01", "20", "10"),
        issued("103", "2020-03-01", "2999-01-01", "10", "30", uses=2),
        issued("104", "2019-12-01", "2998-06-30", "20", "40"),
    ]))
    return c


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["103", "102", "101", "104"]),
    ("start_date=2020-01-15", ["103", "102"]),
    ("end_date=2020-01-01", ["101", "104"]),
    ("start_date=2020-01-01+10:00:01&end_date=2020-02-01+10:00:00", ["102"]),
    ("status=active", ["101", "104"]),
    ("status=expired", ["102"]),
    ("status=redeemed;expired", ["103", "102"]),
    ("series_id=10", ["103", "101"]),
    ("store_id=1", ["101", "104"]),
    ("store_id=2", ["104"]),
    ("order_by=amount", ["101", "104", "103", "102"]),
    ("order_by=valid_till", ["101", "103", "104", "102"]),
    ("order_by=created_date&sort_order=desc", ["103", "102", "101", "104"]),
    ("sort_order=asc", ["104", "101", "102", "103"]),
    ("order_by=amount&sort_order=asc", ["102", "103", "104", "101"]),
])
def test_coupons_filters_and_order(holder: Any, fmt: str, query: str,
                                   expected: list[str]) -> None:
    status, answer = ask(holder, "coupons", f"mobile={MOBILE}&{query}", fmt)
    got = only(answer["customers"]["customer"])
    assert status == 200 and code_of(got) == 1000
    assert ids(got, "coupons", "coupon") == expected


def test_coupons_show_their_redemptions_counted(holder: Any, fmt: str) -> None:
    _, answer = ask(holder, "coupons", f"mobile={MOBILE}&status=redeemed", fmt)
    got = only(answer["customers"]["customer"])
    coupon = only(got["coupons"]["coupon"])
    assert coupon["redemption_count"] == "2" and len(listed(coupon["redemptions"]["redemption"]))
    assert not {"series_id", "amount", "store_ids"} & set(coupon)  # filter-only fields
    assert got["id"].isdigit() and got["mobile"] == MOBILE


def test_coupons_of_an_unknown_customer(holder: Any, fmt: str) -> None:
    status, answer = ask(holder, "coupons", "external_id=NOPE", fmt)
    got = only(answer["customers"]["customer"])
    assert outcome(status, answer) == ALL_FAILED
    assert code_of(got) == 1012 and got["external_id"] == "NOPE"


# --- customer/interaction ----------------------------------------------------------------

def message(mid: str, when: str) -> dict[str, str]:
    return {"id": mid, "sender": "a@x.io", "receiver": "b@x.io", "subject": "s",
            "sent_time": when, "status": "SENT"}


def survey(name: str, score: str, when: str) -> dict[str, str]:
    return {"name": name, "nps_score": score, "sent_by": "Shilpa", "sent_time": when,
            "completion_time": when}


NETWORKS = [
    {"name": "facebook", "interaction": [
        {"type": "checkin", "count": "9", "locs": {"loc": [
            {"lat": "1.5", "long": "2.5", "time": "2020-01-01 10:00:00"},
            {"lat": "3.5", "long": "4.5", "time": "2020-03-01 10:00:00"}]}},
        {"type": "like", "count": "3"}]},
    {"name": "twitter", "interaction": {"type": "tweet", "count": "10"}},
    {"name": "capillary", "interaction": [
        {"type": "email", "count": "1", "messages": {"message": [
            message("1", "2020-01-10 10:00:00"), message("2", "2020-02-10 10:00:00")]}},
        {"type": "survey", "latest_nps_score": "0", "latest_survey_name": "old",
         "latest_survey_interaction_time": "2000-01-01 00:00:00", "surveys": {"survey": [
             survey("S1", "7", "2020-01-20 10:00:00"),
             survey("S2", "9", "2020-02-20 10:00:00")]}}]},
    {"name": "facebook", "interaction": {"type": "comment", "count": "2"}},
]


@pytest.fixture
def social() -> Any:
    c = sandbox()
    load(c, customer(MOBILE, "interactions", NETWORKS),
         customer(OTHER, "interactions", NETWORKS[1:2]))
    return c


def flat(got: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(network, type, count) of every interaction shown."""
    node = got["interactions"] or {}
    return [(network["name"], i["type"], i["count"])
            for network in listed(node.get("network")) for i in listed(network["interaction"])]


ALL = [("facebook", "checkin", "2"), ("facebook", "like", "3"), ("facebook", "comment", "2"),
       ("twitter", "tweet", "10"), ("capillary", "email", "2"), ("capillary", "survey", "2")]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ALL),
    ("network=twitter", [("twitter", "tweet", "10")]),
    ("network=facebook", ALL[:3]),
    ("type=email", [("capillary", "email", "2")]),
    ("network=facebook&type=like", [("facebook", "like", "3")]),
    ("network=twitter&type=like", []),
    ("start_date=2020-02-01", [("facebook", "checkin", "1"), ("capillary", "email", "1"),
                               ("capillary", "survey", "1")]),
    ("end_date=2020-01-31", [("facebook", "checkin", "1"), ("capillary", "email", "1"),
                             ("capillary", "survey", "1")]),
    ("start_date=2020-01-15&end_date=2020-02-15", [("capillary", "email", "1"),
                                                   ("capillary", "survey", "1")]),
])
def test_interaction_filters(social: Any, fmt: str, query: str,
                             expected: list[tuple[str, str, str]]) -> None:
    status, answer = ask(social, "interaction", f"mobile={MOBILE}&{query}", fmt)
    got = only(answer["customer"])
    assert status == 200 and code_of(got) == 1000
    assert flat(got) == expected


def survey_of(got: dict[str, Any]) -> dict[str, Any]:
    capillary = [n for n in listed(got["interactions"]["network"]) if n["name"] == "capillary"]
    return next(i for i in listed(capillary[0]["interaction"]) if i["type"] == "survey")


def test_interaction_window_keeps_dated_details(social: Any, fmt: str) -> None:
    _, answer = ask(social, "interaction", f"mobile={MOBILE}&end_date=2020-01-31", fmt)
    got = only(answer["customer"])
    checkin = listed(listed(got["interactions"]["network"])[0]["interaction"])[0]
    assert [loc["time"] for loc in listed(checkin["locs"]["loc"])] == ["2020-01-01 10:00:00"]
    latest = survey_of(got)
    assert (latest["latest_survey_name"], latest["latest_nps_score"]) == ("S1", "7")
    assert [s["name"] for s in listed(latest["surveys"]["survey"])] == ["S1"]


def test_interaction_latest_survey_is_computed(social: Any, fmt: str) -> None:
    _, answer = ask(social, "interaction", f"mobile={MOBILE}&type=survey", fmt)
    latest = survey_of(only(answer["customer"]))
    assert (latest["latest_survey_name"], latest["latest_nps_score"],
            latest["latest_survey_interaction_time"]) == ("S2", "9", "2020-02-20 10:00:00")


def test_interaction_of_several_customers(social: Any, fmt: str) -> None:
    status, answer = ask(social, "interaction",
                         f"mobile={OTHER},919100000404&network=twitter", fmt)
    got = listed(answer["customer"])
    assert outcome(status, answer) == SOME_FAILED and [code_of(i) for i in got] == [1000, 1012]
    assert flat(got[0]) == [("twitter", "tweet", "10")] and got[0]["id"].isdigit()
    status, answer = ask(social, "interaction", "user_id=999999", fmt)
    got = only(answer["customer"])
    assert outcome(status, answer) == ALL_FAILED and code_of(got) == 1011 and got["id"] == "999999"

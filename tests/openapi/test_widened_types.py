"""The scalars widened from the current reference (docs/defects.md D67-D74, D79)
accept what the reference shows and still refuse what is wrong, in JSON and in
XML, and the types they did not replace stay as narrow as before."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from capmock import fixtures
from capmock.openapi import contract
from capmock.openapi.codec import data_to_xml

# scalar -> (values the current reference shows, values still refused)
CASES: dict[str, tuple[list[Any], list[Any]]] = {
    "points": (["26447.104", 26447.104, "12869", 0, "-5"],
               ["1e5", "12,5", "26447.", ".5", "12 869", "ten", True]),
    "isodatetime": (["2019-07-29T16:13:14.000Z", "2013-09-02T12:49:12+05:30",
                     "2019-07-29T16:13:14Z"],
                    ["20240910T16:35:52.pV7BF", "2019-07-29T16:13:14.Z", "2019-07-29 16:13:14",
                     "2019-07-29T16:13:14.000"]),
    "anydatetime": (["2021-05-17T19:07:54.000Z", "2013-12-12 14:29:41"],
                    ["2021-05-17", "2021-05-17 19:07:54.000Z", "17/05/2021 19:07"]),
    "validity": (["2019-12-31 23:59:59", "2016-12-21"],
                 ["2019-12-31T23:59:59Z", "2019-12-31 23:59", "31-12-2019"]),
    "datetime_fraction": (["2020-01-29 12:25:46.0", "2020-01-29 13:24:15"],
                          ["2020-01-29 12:25:46.", "2020-01-29T12:25:46.0", "2020-1-29 12:25:46"]),
    "effect_type": (["alternate_currency", "points", "coupon"], ["ALTERNATE_CURRENCY", "cash"]),
    "channel": (["POSTMAIL", "postmail", "SMS", "IOS"], ["CLIENT.", "FAX"]),
    "interaction_type": (["whatsapp", "zalo", "sms", "survey"], ["WHATSAPP", "call"]),
}
# Types the widening must not have touched.
UNCHANGED: dict[str, list[Any]] = {
    "numeric": ["26447.104", 1.5],
    "datetime": ["2020-01-29 12:25:46.0", "2019-07-29T16:13:14.000Z"],
    "date": ["2019-12-31 23:59:59"],
    "flag": [True, False],
}


def errors(scalar: str, value: Any, profile: str) -> list[str]:
    return contract.json_errors_for(scalar, value, profile)


@pytest.mark.parametrize("profile", contract.PROFILES)
@pytest.mark.parametrize("scalar", sorted(CASES))
def test_widened_scalar_accepts_the_reference_and_refuses_the_wrong(scalar: str,
                                                                   profile: str) -> None:
    good, bad = CASES[scalar]
    for value in good:
        assert errors(scalar, value, profile) == [], (scalar, value)
    for value in bad:
        assert errors(scalar, value, profile), (scalar, value)


@pytest.mark.parametrize("scalar", sorted(UNCHANGED))
def test_other_scalars_stay_narrow(scalar: str) -> None:
    for value in UNCHANGED[scalar]:
        assert errors(scalar, value, "lenient"), (scalar, value)


def coupons_with(created: str, valid_till: str, redeemed: str) -> dict[str, Any]:
    sample = fixtures.find("customer_coupons", "default", "response", "json")
    assert sample is not None
    body = json.loads(sample.read_text())
    customer = body["response"]["customers"]["customer"]
    customer = customer[0] if isinstance(customer, list) else customer
    coupon = customer["coupons"]["coupon"]
    coupon = coupon[0] if isinstance(coupon, list) else coupon
    coupon.update(created_date=created, valid_till=valid_till)
    coupon["redemptions"] = {"redemption": {"date": redeemed, "transaction_number": "t1"}}
    return body


REFERENCE_FORMS = ("2019-07-29T16:13:14.000Z", "2019-12-31 23:59:59", "2021-05-17T19:07:54.000Z")


@pytest.mark.parametrize("profile", contract.PROFILES)
def test_reference_coupon_dates_pass_in_both_formats(profile: str) -> None:
    body = coupons_with(*REFERENCE_FORMS)
    assert contract.json_errors("customer_coupons", "response", body, profile) == []
    xml = data_to_xml(body)
    assert contract.xml_errors("customer_coupons", "response", xml, profile) == []


@pytest.mark.parametrize("position", range(3))
def test_a_broken_coupon_date_is_refused_in_both_formats(position: int) -> None:
    forms = list(REFERENCE_FORMS)
    forms[position] = "20240910T16:35:52.pV7BF"
    body = coupons_with(*forms)
    assert contract.json_errors("customer_coupons", "response", body, "lenient")
    assert contract.xml_errors("customer_coupons", "response", data_to_xml(body), "lenient")


def preferences_request() -> dict[str, Any]:
    sample = fixtures.find("customer_preferences_update", "default", "request", "json")
    assert sample is not None
    return json.loads(sample.read_text())


def test_preferences_update_without_custom_fields_is_valid_in_both_formats() -> None:
    body = copy.deepcopy(preferences_request())
    item = body["root"]["customer"]
    item = item[0] if isinstance(item, list) else item
    del item["custom_fields"]
    assert contract.json_errors("customer_preferences_update", "request", body, "strict") == []
    xml = data_to_xml(body)
    assert contract.xml_errors("customer_preferences_update", "request", xml, "strict") == []


def test_the_reference_page_says_which_rules_came_from_the_reference() -> None:
    """Each operation's description (shown on /__capmock/docs) names the register
    entries whose rule comes from the current reference or live clients."""
    register = [d for d in fixtures.defects() if d["source"] == "reference"
                and d["contract"] in ("widened", "accepts", "refuses")
                and d["rule_from"] in ("reference", "clients")]
    assert register
    for defect in register:
        for op_id in defect["operations"]:
            op = contract.operations()[op_id]
            text = contract.spec()["paths"][op.path][op.method.lower()]["description"]
            assert defect["id"] in text, (defect["id"], op_id)

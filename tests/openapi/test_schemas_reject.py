"""The schemas are tight enough to catch a wrong server: typical wrong bodies
are rejected in JSON and in XML, and extras are violations only when strict."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from lxml import etree

from capmock import fixtures
from capmock.openapi import contract
from capmock.openapi.codec import data_to_xml

OP = "customer_get"


def good() -> dict[str, Any]:
    sample = fixtures.find(OP, "default", "response", "json")
    return json.loads(sample.read_text())


def customer(body: dict[str, Any]) -> dict[str, Any]:
    node = body["response"]["customers"]["customer"]
    return node[0] if isinstance(node, list) else node


def without_status(body: dict) -> None:
    del body["response"]["status"]


def misspelled_envelope(body: dict) -> None:
    body["reponse"] = body.pop("response")


def misspelled_status_key(body: dict) -> None:
    body["response"]["staus"] = body["response"].pop("status")


def letters_in_numeric(body: dict) -> None:
    customer(body)["loyalty_points"] = "24x"


def array_for_object(body: dict) -> None:
    body["response"]["status"] = [body["response"]["status"]]


def bad_enum(body: dict) -> None:
    customer(body)["type"] = "GOLD"


def bad_timestamp(body: dict) -> None:
    customer(body)["registered_on"] = "10/12/2014"


def missing_item_status(body: dict) -> None:
    del customer(body)["item_status"]


WRONG = [without_status, misspelled_envelope, misspelled_status_key, letters_in_numeric,
         array_for_object, bad_enum, bad_timestamp, missing_item_status]


def test_the_untouched_sample_is_valid() -> None:
    assert contract.json_errors(OP, "response", good(), "strict") == []
    assert contract.xml_errors(OP, "response", data_to_xml(good()), "strict") == []


@pytest.mark.parametrize("mutate", WRONG, ids=[m.__name__ for m in WRONG])
@pytest.mark.parametrize("profile", contract.PROFILES)
def test_wrong_json_body_is_rejected(mutate: Any, profile: str) -> None:
    body = copy.deepcopy(good())
    mutate(body)
    assert contract.json_errors(OP, "response", body, profile)


@pytest.mark.parametrize("mutate", [m for m in WRONG if m is not array_for_object],
                         ids=[m.__name__ for m in WRONG if m is not array_for_object])
def test_wrong_xml_body_is_rejected(mutate: Any) -> None:
    body = copy.deepcopy(good())
    mutate(body)
    assert contract.xml_errors(OP, "response", data_to_xml(body), "strict")


def test_repeated_singleton_element_is_rejected_in_xml() -> None:
    """XML's form of 'an array where an object is required': <status> twice."""
    root = etree.fromstring(data_to_xml(good()))
    root.insert(0, copy.deepcopy(root.find("status")))
    assert contract.xml_errors(OP, "response", etree.tostring(root), "lenient")


def with_extra(body: dict) -> dict:
    customer(body)["shoe_size"] = "44"
    return body


def test_unknown_json_field_fails_strict_only() -> None:
    body = with_extra(good())
    assert contract.json_errors(OP, "response", body, "lenient") == []
    errors = contract.json_errors(OP, "response", body, "strict")
    assert any("shoe_size" in e for e in errors), errors


def test_unknown_xml_element_inside_customer_fails_strict_only() -> None:
    xml = data_to_xml(with_extra(good()))
    assert contract.xml_errors(OP, "response", xml, "lenient") == []
    errors = contract.xml_errors(OP, "response", xml, "strict")
    assert any("shoe_size" in e for e in errors), errors


def test_single_object_and_array_forms_both_accepted() -> None:
    body = good()
    node = body["response"]["customers"]["customer"]
    body["response"]["customers"]["customer"] = node[0] if isinstance(node, list) else [node]
    assert contract.json_errors(OP, "response", body, "strict") == []


def test_numeric_codes_accepted_as_string_or_number() -> None:
    body = good()
    body["response"]["status"]["code"] = "200"
    assert contract.json_errors(OP, "response", body, "strict") == []
    body["response"]["status"]["code"] = 200
    assert contract.json_errors(OP, "response", body, "strict") == []


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        contract.json_errors(OP, "response", good(), "sloppy")

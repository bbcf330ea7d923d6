"""The JSON wire profiles (capmock.openapi.wire) on every fixture, and the HTTP
status policies.

- platform rendering of every JSON response (the document's samples, the
  current reference's examples the lenient contract accepts, every error body)
  passes the lenient contract and the strict platform check;
- document rendering is today's bytes; the XML is the same for both wires;
- the strict platform check reports what live clients would trip over;
- the containers are the data model's repeated elements (not a hand list).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from capmock import fixtures
from capmock.openapi import codec, codes, contract, envelope, wire
from capmock.openapi.build.model import load_model

REFERENCE = Path(__file__).resolve().parents[2] / "fixtures" / "reference"
SAMPLES = [s for s in fixtures.samples() if s.format == "json"]
RESPONSES = [s for s in SAMPLES if s.role == "response"]
XML_OF = {(s.operation, s.example, s.role): s for s in fixtures.samples() if s.format == "xml"}


def accepted_reference_responses() -> list[dict[str, Any]]:
    operations = contract.operations()
    out = []
    for entry in fixtures.reference()["examples"]:
        if entry["file"] and entry["format"] == "json" and entry["role"] == "response" \
                and entry["operation"] in operations:
            body = json.loads((REFERENCE / entry["file"]).read_text("utf-8"))
            if not contract.json_errors(entry["operation"], "response", body):
                out.append(pytest.param(entry["operation"], body, id=entry["file"]))
    return out


def platform(operation: str, role: str, body: Any) -> Any:
    return contract.render(operation, role, body, "platform")


@pytest.mark.parametrize("sample", RESPONSES, ids=[s.file for s in RESPONSES])
def test_platform_rendering_of_every_sample_passes_lenient_and_strict_platform(sample) -> None:
    body = platform(sample.operation, "response", json.loads(sample.read_text()))
    assert contract.json_errors(sample.operation, "response", body) == []
    assert contract.json_errors(sample.operation, "response", body, "strict", "platform") == []
    assert isinstance(body["response"]["status"]["code"], int)


@pytest.mark.parametrize(("operation", "body"), accepted_reference_responses())
def test_platform_rendering_of_the_reference_examples(operation: str, body: Any) -> None:
    rendered = platform(operation, "response", body)
    assert contract.json_errors(operation, "response", rendered) == []
    assert contract.wire_profile().errors(
        contract.operations()[operation].body_schemas["response"], rendered, "platform") == []


def test_some_reference_examples_are_rendered() -> None:
    assert len(accepted_reference_responses()) >= len(contract.operations())


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.file for s in SAMPLES])
def test_document_rendering_is_todays_bytes(sample) -> None:
    body = json.loads(sample.read_text())
    before = codec.data_to_json(body)
    rendered = contract.render(sample.operation, sample.role, copy.deepcopy(body), "document")
    assert codec.data_to_json(rendered) == before


@pytest.mark.parametrize("sample", RESPONSES, ids=[s.file for s in RESPONSES])
def test_the_xml_of_platform_data_is_the_documents(sample) -> None:
    """The codec writes platform data (numbers, one-item arrays) as the XML the
    document shows: the same body as its XML sample, and the same bytes as the
    document form of the data."""
    body = json.loads(sample.read_text())
    rendered = platform(sample.operation, "response", body)
    xml = codec.data_to_xml(rendered)
    assert codec.equivalent(codec.canonical(body), codec.xml_to_data(xml)) == []
    twin = XML_OF.get((sample.operation, sample.example, "response"))
    if twin is not None:
        assert codec.equivalent(rendered, codec.xml_to_data(twin.read_bytes())) == []


@pytest.mark.parametrize("sample", RESPONSES, ids=[s.file for s in RESPONSES])
def test_platform_rendering_is_idempotent(sample) -> None:
    once = platform(sample.operation, "response", json.loads(sample.read_text()))
    assert platform(sample.operation, "response", once) == once


@pytest.mark.parametrize("code", sorted(codes.request_codes()))
def test_request_level_error_bodies_in_platform_form(code: int) -> None:
    body = contract.render_for("ErrorEnvelopeBody", envelope.request_error(code), "platform")
    assert body["response"]["status"]["code"] == code
    assert body["response"]["status"]["success"] in ("true", "false")
    assert contract.json_errors_for("ErrorEnvelopeBody", body, "strict", "platform") == []
    document = envelope.request_error(code)
    assert contract.render_for("ErrorEnvelopeBody", document, "document") == document


def test_an_item_failure_in_platform_form() -> None:
    """One unknown customer: code 500 as a number, the item in an array, its code a string."""
    op = contract.operations()["customer_get"]
    body = envelope.item_error(op.id, list(op.item), 1012, {"mobile": "919999999999"})
    rendered = contract.render(op.id, "response", body, "platform")
    status = rendered["response"]["status"]
    assert status["code"] == 500
    customer = rendered["response"]["customers"]["customer"]
    assert isinstance(customer, list)
    assert customer[0]["item_status"]["code"] == "1012"
    assert customer[0]["item_status"]["success"] == "false"


def customer_get() -> dict[str, Any]:
    sample = fixtures.find("customer_get", "default", "response", "json")
    assert sample is not None
    return platform("customer_get", "response", json.loads(sample.read_text()))


@pytest.mark.parametrize(("change", "reported"), [
    (lambda r: r["status"].__setitem__("code", "200"), "/response/status/code: '200' is not a "
                                                        "JSON number"),
    (lambda r: r["customers"].__setitem__("customer", r["customers"]["customer"][0]),
     "/response/customers/customer: dict is not a JSON array"),
    (lambda r: r["customers"]["customer"][0].__setitem__("lifetime_points", "442"),
     "/response/customers/customer/0/lifetime_points: '442' is not a JSON number"),
    (lambda r: r["customers"]["customer"][0]["item_status"].__setitem__("code", 1000),
     "/response/customers/customer/0/item_status/code: 1000 is not a JSON string"),
    (lambda r: r["status"].__setitem__("success", True),
     "/response/status/success: True is not a JSON string"),
    (lambda r: r["customers"]["customer"][0]["transactions"].__setitem__("transaction", ""),
     "/response/customers/customer/0/transactions/transaction: '' is not a JSON array"),
])
def test_the_strict_platform_check_reports_what_clients_trip_over(change, reported) -> None:
    body = customer_get()
    assert contract.json_errors("customer_get", "response", body, "strict", "platform") == []
    change(body["response"])
    strict = contract.json_errors("customer_get", "response", body, "strict", "platform")
    assert any(line.startswith(reported) for line in strict), strict
    # the lenient contract keeps accepting both forms (a boolean success it refuses, D66);
    # the document wire checks nothing more
    lenient = contract.json_errors("customer_get", "response", body, "lenient", "platform")
    assert (lenient == []) == ("success" not in reported), lenient
    assert not any(line.startswith(reported) for line in
                   contract.json_errors("customer_get", "response", body, "strict", "document"))


def test_the_document_samples_differ_from_the_platform_where_the_register_says() -> None:
    """customer/add's sample writes the code and the points as strings (D104, D105)."""
    sample = fixtures.find("customer_add", "default", "response", "json")
    assert sample is not None
    strict = contract.json_errors("customer_add", "response", json.loads(sample.read_text()),
                                  "strict", "platform")
    assert "/response/status/code: '200' is not a JSON number (the platform sends one)" in strict
    assert any("/lifetime_points:" in line for line in strict)


def test_an_empty_or_single_container_becomes_an_array() -> None:
    profile = contract.wire_profile()
    body = {"response": {"status": {"success": "true", "code": "200", "message": "x"},
                         "customers": {"customer": {"mobile": "1", "transactions": "",
                                                    "coupons": {"coupon": None}}}}}
    rendered = profile.render("GetResponseBody", body, "platform")
    customer = rendered["response"]["customers"]["customer"]
    assert customer == [{"mobile": "1", "transactions": "", "coupons": {"coupon": []}}]


def test_the_containers_are_the_models_repeated_elements() -> None:
    """Derived from schemas.yaml (through the built document), not hand-listed."""
    model = load_model()
    repeated = {(t.name, p.name) for t in model.types.values() for p in t.props if p.repeated}
    profile = contract.wire_profile()
    found = {(t, key) for t, children in profile.types.items()
             for key, child in children.items() if child.repeated}
    assert found == repeated
    assert ("CustomerResults", "customer") in found


def test_the_number_fields_name_fields_of_the_contract() -> None:
    with pytest.raises(ValueError, match="names fields the contract lacks"):
        wire.Profile({"Status": {"properties": {"success": {"$ref": "#/components/schemas/flag"}}}})


def test_unknown_wire() -> None:
    with pytest.raises(ValueError, match="unknown wire 'xml'"):
        contract.render("customer_get", "response", {}, "xml")


def test_the_wires_and_their_default() -> None:
    assert wire.wires() == ("platform", "document")
    assert wire.default_wire() == "platform"


REQUEST_LEVEL_ERRORS = [400, 401, 402, 404, 405, 406, 407, 408]


@pytest.mark.parametrize("code", sorted(codes.request_codes()))
def test_http_status_policies(code: int) -> None:
    item_level = code in (200, 201, 500)
    assert item_level != (code in REQUEST_LEVEL_ERRORS)
    assert wire.http_status("platform", code) == (200 if item_level else code)
    assert wire.http_status("mirror", code) == code
    assert wire.http_status("always-200", code) == 200


def test_http_status_policy_names_and_default() -> None:
    assert wire.http_status_policies() == ("platform", "mirror", "always-200")
    assert wire.default_http_status() == "platform"
    with pytest.raises(ValueError, match="unknown HTTP status policy"):
        wire.http_status("strict", 200)


def test_each_rule_of_wire_yaml_cites_a_registered_clients_entry() -> None:
    """wire.yaml names the defects it encodes; each is a live-clients entry of the
    register, with the fields docs/defects.md renders, and says where it is encoded."""
    text = (Path(wire.__file__).parent / wire.WIRE_FILE).read_text("utf-8")
    cited = set(re.findall(r"\bD[0-9]{2,}\b", text)) - {"D66"}
    register = {d["id"]: d for d in fixtures.defects()}
    clients = {i for i, d in register.items() if d["source"] == "clients"}
    assert cited and cited <= clients, sorted(cited - clients)
    for defect_id in cited:
        d = register[defect_id]
        for field in ("title", "clients_rely_on", "document_says", "decision", "why"):
            assert isinstance(d[field], str) and d[field].strip(), (defect_id, field)
        assert d["rule_from"] == "clients" and d["wire"].startswith("openapi/wire.yaml")
        assert set(d["operations"]) <= set(contract.operations()), defect_id

"""Every fixture validates against the contract, in its own format and
through the codec in the other one; every failure names the fixture."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from capmock import fixtures
from capmock.openapi import contract
from capmock.openapi.codec import data_to_xml, equivalent, xml_to_data

BODIES = [s for s in fixtures.samples() if s.format != "url"]
JSON_SAMPLES = [s for s in BODIES if s.format == "json"]
XML_SAMPLES = [s for s in BODIES if s.format == "xml"]
ERRORS = sorted(
    f"{folder.name}/{body.name}"
    for folder in resources.files("capmock.fixtures").joinpath("errors").iterdir()
    for body in folder.iterdir()
)


def ids(samples: list[fixtures.Sample]) -> list[str]:
    return [s.file for s in samples]


def fail_if(errors: list[str], what: str) -> None:
    if errors:
        pytest.fail(f"{what}:\n  " + "\n  ".join(errors), pytrace=False)


@pytest.mark.parametrize("sample", JSON_SAMPLES, ids=ids(JSON_SAMPLES))
@pytest.mark.parametrize("profile", contract.PROFILES)
def test_json_fixture_matches_schema(sample: fixtures.Sample, profile: str) -> None:
    data = json.loads(sample.read_text())
    errors = contract.json_errors(sample.operation, sample.role, data, profile)
    fail_if(errors, f"{sample.file} violates the {profile} JSON schema")


@pytest.mark.parametrize("sample", XML_SAMPLES, ids=ids(XML_SAMPLES))
@pytest.mark.parametrize("profile", contract.PROFILES)
def test_xml_fixture_matches_xsd(sample: fixtures.Sample, profile: str) -> None:
    errors = contract.xml_errors(sample.operation, sample.role, sample.read_bytes(), profile)
    fail_if(errors, f"{sample.file} violates the {profile} XSD")


@pytest.mark.parametrize("sample", XML_SAMPLES, ids=ids(XML_SAMPLES))
def test_xml_fixture_read_through_codec_matches_json_schema(sample: fixtures.Sample) -> None:
    data = xml_to_data(sample.read_bytes())
    errors = contract.json_errors(sample.operation, sample.role, data, "strict")
    fail_if(errors, f"{sample.file} read as JSON violates the strict JSON schema")


@pytest.mark.parametrize("sample", JSON_SAMPLES, ids=ids(JSON_SAMPLES))
def test_json_fixture_rendered_through_codec_matches_xsd(sample: fixtures.Sample) -> None:
    xml = data_to_xml(json.loads(sample.read_text()))
    errors = contract.xml_errors(sample.operation, sample.role, xml, "strict")
    fail_if(errors, f"{sample.file} rendered as XML violates the strict XSD")


def pairs() -> list[tuple[fixtures.Sample, fixtures.Sample]]:
    out = []
    for s in JSON_SAMPLES:
        other = fixtures.find(s.operation, s.example, s.role, "xml")
        if other is not None:
            out.append((s, other))
    return out


@pytest.mark.parametrize("pair", pairs(), ids=[p[0].file for p in pairs()])
def test_json_and_xml_fixtures_say_the_same(pair: tuple) -> None:
    """The repaired samples agree; the document's disagreements are registered defects."""
    as_json, as_xml = pair
    diff = equivalent(json.loads(as_json.read_text()), xml_to_data(as_xml.read_bytes()))
    fail_if(diff, f"{as_json.file} and {as_xml.file} disagree")


def test_every_operation_has_documented_samples_in_both_formats() -> None:
    for op_id, op in contract.operations().items():
        for role in op.body_schemas:
            for fmt in ("json", "xml"):
                assert fixtures.find(op_id, "default", role, fmt), f"{op_id} {role} {fmt}"


@pytest.mark.parametrize("path", ERRORS)
def test_error_fixture_matches_contract(path: str) -> None:
    operation, name = path.split("/")
    code, fmt = name.split(".")
    body = fixtures.read_error(None if operation == "request" else operation, int(code), fmt)
    target = "customer_get" if operation == "request" else operation
    if fmt == "json":
        errors = contract.json_errors(target, "response", json.loads(body), "strict")
    else:
        errors = contract.xml_errors(target, "response", body, "strict")
    fail_if(errors, f"fixtures/errors/{path} violates {target}'s response contract")

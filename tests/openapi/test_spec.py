"""The OpenAPI document: valid, complete, loadable by schemathesis, and its
generated artifacts in sync with their sources."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from openapi_spec_validator import validate
from sources import declared_operations, declared_paths

from capmock.openapi import codes, contract
from capmock.openapi.build import artifacts as build

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = declared_operations()


def test_document_is_valid_openapi_3_0_3() -> None:
    spec = contract.spec()
    assert spec["openapi"] == "3.0.3"
    validate(spec)


def test_every_declared_operation_on_its_path() -> None:
    spec = contract.spec()
    assert list(contract.operations()) == OPERATIONS
    assert set(spec["paths"]) == declared_paths()
    assert all(p.startswith("/v1.1/customer/") for p in spec["paths"])


def test_schemathesis_loads_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(contract.spec())
    loaded = [result.ok().label for result in schema.get_all_operations()]
    assert len(loaded) == len(OPERATIONS)


def test_every_operation_speaks_json_and_xml() -> None:
    for path, item in contract.spec()["paths"].items():
        for method, op in item.items():
            media = set(op["responses"]["200"]["content"])
            assert media == {"application/json", "application/xml"}, (method, path)
            if "requestBody" in op:
                assert set(op["requestBody"]["content"]) == media, (method, path)
            assert any(p["name"] == "format" for p in op["parameters"]), (method, path)


def test_http_basic_security_applies_everywhere() -> None:
    spec = contract.spec()
    assert spec["components"]["securitySchemes"]["tillBasic"]["scheme"] == "basic"
    assert spec["security"] == [{"tillBasic": []}]


def test_links_follow_a_registration_to_the_operations_it_identifies() -> None:
    add = contract.spec()["paths"]["/v1.1/customer/add"]["post"]
    targets = {link["operationId"] for link in add["responses"]["200"]["links"].values()}
    expected = {"customer_get", "customer_update", "customer_notes_get", "customer_tickets_get",
                "customer_preferences_get", "customer_subscriptions_get"}
    assert expected <= targets
    assert targets <= set(OPERATIONS)


def test_operation_codes_come_from_the_code_table() -> None:
    for op_id, op in contract.operations().items():
        assert op.codes == tuple(sorted(codes.codes_for(op_id))), op_id


def test_request_error_responses_documented() -> None:
    responses = contract.spec()["components"]["responses"]
    for name in ("BadRequest", "Unauthorized", "NotFound", "MethodNotAllowed"):
        assert "examples" in responses[name]["content"]["application/xml"], name


def test_every_xsd_named_by_the_document_compiles() -> None:
    for op_id, op in contract.operations().items():
        for role in op.xsd:
            assert contract.xml_schema(op_id, role) is not None, (op_id, role)


@pytest.mark.parametrize("path", sorted(build.artifacts()))
def test_generated_artifact_is_up_to_date(path: str) -> None:
    """`capmock build` output equals what is committed (run `capmock build` to fix)."""
    target = REPO / path
    assert target.is_file(), f"{path} is missing: run `capmock build`"
    assert target.read_bytes() == build.artifacts()[path], f"{path} is stale: run `capmock build`"


def test_no_leftover_generated_files() -> None:
    assert build.stale(REPO, build.artifacts()) == []


def test_numeric_looking_strings_stay_strings_for_yaml_1_2_readers() -> None:
    """Prism and other YAML 1.2 readers turn an unquoted 095790 into 95790."""
    text = contract.package_text(contract.SPEC_NAME)
    assert "coupon_code: '095790'" in text

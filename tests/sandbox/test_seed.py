"""The fresh sandbox (seed.yaml): a valid sandbox file with unique identifiers,
holding every sample customer, on which the documented GET requests of the
history operations answer 200 with the sample's customer and history."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import pytest
import yaml
from sandboxhelpers import code_of, decode, listed, sandbox

from capmock.mockserver.sandbox import seed
from capmock.openapi import contract
from capmock.openapi.codec import canonical, xml_to_data

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
PACKAGE = resources.files("capmock.mockserver.sandbox")
HISTORY = ("customer_transactions", "customer_redemptions", "customer_coupons",
           "customer_interaction")
FORMATS = ("json", "xml")


def seed_file() -> dict[str, Any]:
    return yaml.safe_load(PACKAGE.joinpath("seed.yaml").read_text("utf-8"))


def sample(op_id: str, fmt: str) -> dict[str, Any]:
    path = SAMPLES / op_id / f"default.response.{fmt}"
    return json.loads(path.read_bytes()) if fmt == "json" else xml_to_data(path.read_bytes())


def documented_url(op_id: str) -> tuple[str, str]:
    method, url = (SAMPLES / op_id / "default.request.url").read_text().split()[:2]
    return method, url


def get_urls() -> list[tuple[str, str]]:
    pairs = [(op.name, documented_url(op.name)) for op in sorted(SAMPLES.iterdir())]
    return [(op_id, url) for op_id, (method, url) in pairs if method == "GET"]


def with_format(url: str, fmt: str) -> str:
    return url.replace("format=json", f"format={fmt}").replace("format=xml", f"format={fmt}")


# --- the file -------------------------------------------------------------------------

def test_seed_is_a_valid_sandbox_file() -> None:
    schema = yaml.safe_load(PACKAGE.joinpath("sandbox-file.schema.yaml").read_text("utf-8"))
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(seed_file())) == []
    assert seed.document_seed()["customers"] == seed_file()["customers"]


@pytest.mark.parametrize("name", ["user_id", "mobile", "email", "external_id"])
def test_seed_identifiers_are_unique(name: str) -> None:
    values = [str(c[name]).strip().lower() for c in seed_file()["customers"]
              if c.get(name) not in (None, "")]
    assert values and len(values) == len(set(values))


def test_every_sample_customer_is_seeded() -> None:
    """Every customer a response sample shows (by mobile, with a name or an id) is seeded."""
    mobiles = {c.get("mobile") for c in seed_file()["customers"]}
    shown: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("mobile") and {"firstname", "user_id", "id"} & set(node):
                shown.add(str(node["mobile"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in SAMPLES.glob("*/*.response.json"):
        walk(json.loads(path.read_bytes()))
    assert len(shown) >= 8 and shown <= mobiles


@pytest.mark.parametrize(("op_id", "url"), get_urls())
def test_every_documented_get_names_a_seeded_customer(op_id: str, url: str) -> None:
    op = contract.operations()[op_id]
    query = parse_qsl(urlsplit(url).query)
    names = [(n, v) for n, v in query
             if n in op.identifiers and not (n == "user_id" and v in ("true", "false"))]
    for name, value in query:  # customer/search: q=mobile:IN:a;b
        if name == "q":
            attribute, _, values = value.partition(":IN:")
            names += [(attribute, v) for v in values.split(";")]
    store = sandbox().application.extensions["capmock"].sandbox.store
    with store.transaction() as tx:
        assert names and all(tx.customer(n, v) is not None for n, v in names)


# --- the history operations on the documented requests ---------------------------------

def answer_of(op_id: str, url: str, fmt: str) -> tuple[int, dict[str, Any]]:
    """GET url on a fresh sandbox; the answer must validate strictly (XML: XSD and data;
    JSON: also on the platform's wire, the default)."""
    answer = sandbox().get(url)
    if fmt == "xml":
        assert contract.xml_errors(op_id, "response", answer.data, "strict") == []
    data = decode(answer.data, fmt)
    wire = "platform" if fmt == "json" else None
    assert contract.json_errors(op_id, "response", data, "strict", wire=wire) == []
    return answer.status_code, data["response"]


def item(response: dict[str, Any], op_id: str) -> dict[str, Any]:
    node: Any = response
    for key in contract.operations()[op_id].item:
        node = node[key]
    (only,) = listed(node)
    return only


def by_id(node: Any, *path: str) -> list[Any]:
    for key in path:
        node = node[key]
    return sorted((canonical(i) for i in listed(node)), key=lambda i: int(i["id"]))


HISTORY_NODES = {
    "customer_transactions": [("transactions",)],
    "customer_redemptions": [("redemptions", "coupons", "coupon"),
                             ("redemptions", "points", "point")],
    "customer_coupons": [("coupons", "coupon")],
    "customer_interaction": [("interactions",)],
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", HISTORY)
def test_documented_request_answers_the_samples_customer_and_history(op_id: str,
                                                                    fmt: str) -> None:
    status, response = answer_of(op_id, with_format(documented_url(op_id)[1], fmt), fmt)
    got, want = item(response, op_id), item(sample(op_id, fmt)["response"], op_id)
    assert status == 200 and code_of(got) == 1000
    for name in ("mobile", "email", "firstname", "lastname"):
        assert got.get(name, want.get(name)) == want.get(name, got.get(name)), name
    for path in HISTORY_NODES[op_id]:
        if path in (("transactions",), ("interactions",)):
            assert canonical(got[path[0]]) == canonical(want[path[0]])
        else:
            assert by_id(got, *path) == by_id(want, *path)


def test_transactions_window_of_the_sample_url_matters() -> None:
    """The seeded transaction lies inside the sample URL's window and not outside it."""
    url = documented_url("customer_transactions")[1]
    client = sandbox()
    assert "format=json" in url  # the platform's JSON: customer is an array, one item here
    [inside] = json.loads(client.get(url).data)["response"]["customer"]
    [outside] = json.loads(client.get(url.replace("2016-12-11", "2016-12-17")).data)[
        "response"]["customer"]
    assert inside["count"] == "1" and outside["count"] == "0"


@pytest.mark.parametrize("fmt", FORMATS)
def test_rati_ranjans_transactions_match_customer_get(fmt: str) -> None:
    """Her seeded transactions give customer/get's summaries and customer/transactions."""
    client = sandbox()
    summaries = item(decode(client.get(f"/v1.1/customer/get?format={fmt}&mobile=19889999999")
                            .data, fmt)["response"], "customer_get")["transactions"]
    want = item(sample("customer_get", fmt)["response"], "customer_get")["transactions"]
    assert canonical(summaries) == canonical(want)
    status, response = answer_of("customer_transactions", f"/v1.1/customer/transactions"
                                 f"?format={fmt}&mobile=19889999999", fmt)
    got = item(response, "customer_transactions")
    assert status == 200 and got["count"] == "6"
    assert [t["id"] for t in listed(got["transactions"]["transaction"])] == \
        [t["id"] for t in listed(want["transaction"])]

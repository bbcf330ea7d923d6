"""A fresh sandbox answers like a cluster (issue 14, items 5 and 6):

- every documented request (fixtures/samples/<op>/default.request.url and its
  request body) answers as documented: the request-level code and each item's
  code are the documented response sample's, in JSON and XML;
- every seeded record carries the fields its documented sample shows;
- customer/get's flags that ask for more data (points_summary, slab_history,
  next_slab) answer it in the current reference's shape (D104), from the
  customer's data, which export and import keep.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import yaml
from sandboxhelpers import ADMIN, JSON, MEDIA, decode, listed, sandbox
from sources import declared_operations

from capmock.mockserver.sandbox import seed
from capmock.openapi import contract
from capmock.openapi.codec import canonical, xml_to_data

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SAMPLES = FIXTURES / "samples"
FORMATS = ("json", "xml")
# the declared operations the document has samples for (customer/recommendations,
# from the current reference only, has none)
OPERATIONS = [op for op in declared_operations() if (SAMPLES / op).is_dir()]


def documented_request(op_id: str, fmt: str) -> tuple[str, str, bytes | None]:
    """The documented request line (the one for `fmt` where the sample has one per
    format) asking for `fmt`, and its documented body in that format."""
    lines = [line.split()[:2] for line in
             (SAMPLES / op_id / "default.request.url").read_text().splitlines() if line.strip()]
    method, url = next((m, u) for m, u in lines if f"format={fmt}" in u) \
        if any(f"format={fmt}" in u for _, u in lines) else lines[0]
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "format"]
    body_file = SAMPLES / op_id / f"default.request.{fmt}"
    body = body_file.read_bytes() if method == "POST" else None
    return method, f"{parts.path}?{urlencode([*query, ('format', fmt)])}", body


def sample(op_id: str, fmt: str) -> dict[str, Any]:
    path = SAMPLES / op_id / f"default.response.{fmt}"
    return json.loads(path.read_bytes()) if fmt == "json" else xml_to_data(path.read_bytes())


def items(response: dict[str, Any], op_id: str) -> list[Any]:
    node: Any = response
    for key in contract.operations()[op_id].item:
        node = node.get(key) if isinstance(node, dict) else None
    return listed(node)


def codes(data: dict[str, Any], op_id: str) -> tuple[str, list[str | None]]:
    """The request-level code and each item's code (None: the item has no item_status)."""
    response = data["response"]
    item_codes = [str(i["item_status"]["code"]) if isinstance(i.get("item_status"), dict)
                  else None for i in items(response, op_id)]
    return str(response["status"]["code"]), item_codes


@cache
def register() -> dict[str, dict[str, Any]]:
    defects = yaml.safe_load((FIXTURES / "defects.yaml").read_text("utf-8"))
    return {d["id"]: d for d in defects}


# Where the sandbox answers an item code the sample does not show, and the entry
# of fixtures/defects.yaml that says why: (operation, sample's code) -> (code, entry).
EXPLAINED = {("customer_transactions", None): ("1000", "D105"),
             ("customer_redemptions", None): ("1000", "D105"),
             ("customer_interaction", None): ("1000", "D105")}


def explained(op_id: str, want: tuple[str, list[str | None]]) -> tuple[str, list[str | None]]:
    """The sample's codes, with each registered difference applied."""
    item_codes = []
    for code in want[1]:
        answered, defect = EXPLAINED.get((op_id, code), (code, None))
        assert defect is None or op_id in register()[defect]["operations"], defect
        item_codes.append(answered)
    return want[0], item_codes


def test_every_sampled_operation_has_a_documented_request() -> None:
    sampled = {p.name for p in SAMPLES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert sampled == set(OPERATIONS)
    assert all((SAMPLES / op / "default.request.url").is_file() for op in OPERATIONS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("op_id", OPERATIONS)
def test_documented_request_answers_as_documented(op_id: str, fmt: str) -> None:
    method, url, body = documented_request(op_id, fmt)
    client = sandbox()
    if method == "POST":
        assert body is not None
        answer = client.post(url, data=body, content_type=MEDIA[fmt])
    else:
        answer = client.get(url)
    assert answer.status_code == 200, answer.data[:300]
    errors = (contract.json_errors(op_id, "response", json.loads(answer.data), "strict")
              if fmt == "json" else contract.xml_errors(op_id, "response", answer.data, "strict"))
    assert errors == []
    got, want = codes(decode(answer.data, fmt), op_id), codes(sample(op_id, fmt), op_id)
    assert want[1], "the sample shows its items"
    assert got == explained(op_id, want)


def test_the_refer_customer_request_finds_its_referrer() -> None:
    """The sample's referrer mobile is seeded (D37), and the invitees are stored for it."""
    _, url, body = documented_request("customer_referrals_add", "json")
    client = sandbox()
    answer = json.loads(client.post(url, data=body, content_type=JSON).data)["response"]
    (referrer,) = items(answer, "customer_referrals_add")
    assert referrer["mobile"] == "917411639000" and referrer["item_status"]["code"] == "1000"
    stats = json.loads(client.get("/v1.1/customer/referrals?format=json&mobile=917411639000")
                       .data)["response"]
    (only,) = items(stats, "customer_referrals_get")
    invitees = [i["identifier"] for group in listed(only["invitees"]["referral_type"])
                for i in listed(group["invitee"])]
    assert sorted(invitees) == sorted(["dexter.morgan@mpd.com", "eddard.stark@winterfell.com",
                                       "debra.morgan@elwaydetectives.com"])


# --- every seeded record carries the fields its sample shows -----------------------------

def seeded() -> list[dict[str, Any]]:
    return seed.document_seed()["customers"]


def sample_item(op_id: str, *path: str) -> dict[str, Any]:
    (node,) = items(sample(op_id, "json")["response"], op_id)
    for key in path:
        node = listed(node[key])[0]
    return node


TRANSACTION_VALUES = ("id", "number", "type", "amount", "billing_time", "gross_amount",
                      "discount", "store")


def test_every_seeded_transaction_has_every_field_of_the_transaction_sample() -> None:
    want = sample_item("customer_transactions", "transactions", "transaction")
    client, checked = sandbox(), 0
    for customer in seeded():
        if not customer.get("records", {}).get("transactions"):
            continue
        answer = json.loads(client.get(f"/v1.1/customer/transactions?format=json"
                                       f"&mobile={customer['mobile']}").data)["response"]
        (only,) = items(answer, "customer_transactions")
        for transaction in listed(only["transactions"]["transaction"]):
            assert set(want) <= set(transaction), transaction["id"]
            assert all(transaction[k] not in ("", None) for k in TRANSACTION_VALUES
                       if k != "store" or want[k]), transaction
            assert {k: v for k, v in transaction["points"].items() if v != ""}.keys() \
                == want["points"].keys(), transaction["id"]
            checked += 1
    assert checked >= 7


def test_rati_ranjans_bills_add_up_to_her_profile() -> None:
    """D103: the values are ours, derived from her profile in the customer/get sample."""
    profile = sample_item("customer_get")
    client = sandbox()
    answer = json.loads(client.get("/v1.1/customer/transactions?format=json"
                                   "&mobile=19889999999").data)["response"]
    (only,) = items(answer, "customer_transactions")
    bills = listed(only["transactions"]["transaction"])
    assert len(bills) == 6
    assert sum(int(b["amount"]) for b in bills) == int(profile["lifetime_purchases"])
    assert sum(int(b["points"]["issued"]) for b in bills) == int(profile["lifetime_points"])
    redeemed = sum(int(b["points"]["redeemed"]) for b in bills)
    assert redeemed == int(profile["lifetime_points"]) - int(profile["loyalty_points"])
    for bill in bills:
        assert int(bill["gross_amount"]) - int(bill["discount"]) == int(bill["amount"])


PROFILE_VALUES = ("lifetime_points", "lifetime_purchases", "loyalty_points", "type", "source")


@pytest.mark.parametrize("fmt", FORMATS)
def test_customer_get_answers_every_seeded_customer_with_the_samples_profile_fields(
        fmt: str) -> None:
    want = sample_item("customer_get")
    client = sandbox()
    for customer in seeded():
        answer = decode(client.get(f"/v1.1/customer/get?format={fmt}"
                                   f"&mobile={customer['mobile']}").data, fmt)
        if fmt == "xml":
            assert contract.xml_errors("customer_get", "response",
                                       client.get(f"/v1.1/customer/get?format=xml&mobile="
                                                  f"{customer['mobile']}").data, "strict") == []
        (got,) = items(answer["response"], "customer_get")
        shown = set(want) - {"identifiers", "trackers", "current_nps_status", "coupons", "notes",
                             "registered_store", "registered_till"}  # not in the seed's docs
        assert shown <= set(got), (customer["mobile"], shown - set(got))
        assert all(got[k] not in ("", None) for k in PROFILE_VALUES), (customer["mobile"], got)
        assert got["fraud_details"]["status"], customer["mobile"]


@pytest.mark.parametrize(("op_id", "kind", "path"), [
    ("customer_coupons", "coupons", ("coupons", "coupon")),
    ("customer_notes_get", "notes", ("notes", "note")),
    ("customer_tickets_get", "tickets", ("tickets", "ticket")),
])
def test_seeded_engagement_records_have_every_field_of_their_sample(
        op_id: str, kind: str, path: tuple[str, ...]) -> None:
    want = sample_item(op_id, *path)
    records = [r for c in seeded() for r in c.get("records", {}).get(kind, [])]
    assert records
    for record in records:
        assert set(want) <= set(record) | {"redemption_count"}, (kind, set(want) - set(record))


# --- customer/get's flags ----------------------------------------------------------------

RATI = "19889999999"
FLAGS = "points_summary=true&slab_history=true&next_slab=true"


def customer_get(client: Any, query: str, fmt: str = "json") -> dict[str, Any]:
    answer = client.get(f"/v1.1/customer/get?format={fmt}&{query}")
    assert answer.status_code == 200
    if fmt == "xml":
        assert contract.xml_errors("customer_get", "response", answer.data, "strict") == []
    data = decode(answer.data, fmt)
    if fmt == "json":
        assert contract.json_errors("customer_get", "response", data, "strict") == []
    (got,) = items(data["response"], "customer_get")
    return got


def rati() -> dict[str, Any]:
    return next(c for c in seeded() if c["mobile"] == RATI)


@pytest.mark.parametrize("fmt", FORMATS)
def test_flags_answer_the_customers_points_summaries_slab_history_and_next_slab(
        fmt: str) -> None:
    got, doc = customer_get(sandbox(), f"mobile={RATI}&{FLAGS}", fmt), rati()
    assert got["tier_expiry_date"] == doc["tier_expiry_date"]
    assert canonical(listed(got["points_summaries"]["points_summary"])) == \
        canonical(doc["points_summaries"])
    assert canonical(listed(got["slab_history"]["history"])) == canonical(doc["slab_history"])
    for name in ("next_slab", "next_slab_serial_number", "next_slab_description"):
        assert got[name] == doc[name]


def test_the_seeded_points_summary_agrees_with_the_profile() -> None:
    doc = rati()
    (summary,) = doc["points_summaries"]
    assert summary["lifetimePoints"] == doc["lifetime_points"]
    assert summary["loyaltyPoints"] == doc["loyalty_points"]
    assert summary["cumulativePurchases"] == doc["lifetime_purchases"]
    assert summary["currentSlab"] == doc["current_slab"] == doc["slab_history"][0]["to"]
    assert summary["nextSlab"] == doc["next_slab"]
    assert summary["slabExpiryDate"] == doc["tier_expiry_date"]


def test_without_the_flags_nothing_is_added() -> None:
    got = customer_get(sandbox(), f"mobile={RATI}")
    added = {"tier_expiry_date", "points_summaries", "slab_history", "next_slab",
             "next_slab_serial_number", "next_slab_description"}
    assert not added & set(got)
    got = customer_get(sandbox(), f"mobile={RATI}&points_summary=false&slab_history=false")
    assert not added & set(got)


def test_each_flag_adds_only_its_own_section() -> None:
    client = sandbox()
    assert {"tier_expiry_date", "points_summaries"} <= set(
        customer_get(client, f"mobile={RATI}&points_summary=true"))
    only_history = customer_get(client, f"mobile={RATI}&slab_history=true")
    assert "slab_history" in only_history and "points_summaries" not in only_history
    only_next = customer_get(client, f"mobile={RATI}&next_slab=true")
    assert only_next["next_slab"] == "GOLD" and "slab_history" not in only_next


def test_a_customer_without_that_data_gets_the_empty_sections() -> None:
    """As the reference's customer/get examples show points_summaries for one."""
    got = customer_get(sandbox(), f"mobile=44700900999&{FLAGS}")
    assert got["points_summaries"] == {"points_summary": []}
    assert got["slab_history"] == {"history": []}
    assert got["tier_expiry_date"] == got["next_slab"] == ""


def test_export_and_import_keep_the_flags_data() -> None:
    client = sandbox()
    before = customer_get(client, f"mobile={RATI}&{FLAGS}")
    exported = client.get("/__capmock/sandbox/export").data
    entry = next(c for c in json.loads(exported)["customers"] if c["mobile"] == RATI)
    assert entry["slab_history"] == rati()["slab_history"]
    changed = json.loads(exported)
    entry = next(c for c in changed["customers"] if c["mobile"] == RATI)
    entry["slab_history"] = entry["slab_history"][:1]
    other = sandbox()
    assert other.post("/__capmock/sandbox/import", data=json.dumps(changed),
                      content_type=JSON, headers=ADMIN).status_code == 200
    after = customer_get(other, f"mobile={RATI}&{FLAGS}")
    assert after["points_summaries"] == before["points_summaries"]
    assert listed(after["slab_history"]["history"]) == rati()["slab_history"][:1]


def test_the_sandbox_file_schema_documents_the_flags_data() -> None:
    schema = yaml.safe_load(Path(seed.__file__).with_name("sandbox-file.schema.yaml")
                            .read_text("utf-8"))
    properties = schema["properties"]["customers"]["items"]["properties"]
    assert {"tier_expiry_date", "points_summaries", "slab_history", "next_slab",
            "next_slab_serial_number", "next_slab_description"} <= set(properties)


# --- credit notes ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_the_documented_transactions_request_lists_the_credit_note_when_asked(fmt: str) -> None:
    _, url, _ = documented_request("customer_transactions", fmt)
    client = sandbox()

    def shown(query: str) -> list[tuple[str, str]]:
        answer = client.get(url + query)
        if fmt == "xml":
            assert contract.xml_errors("customer_transactions", "response", answer.data,
                                       "strict") == []
        (only,) = items(decode(answer.data, fmt)["response"], "customer_transactions")
        return [(t["type"], t["number"]) for t in listed(only["transactions"]["transaction"])]

    assert shown("") == [("REGULAR", "ANBDCGD")]
    assert shown("&credit_notes=true") == [("RETURN", "ANBDCGD"), ("REGULAR", "ANBDCGD")]

"""The journal's search API (GET /__capmock/journal/find, /count, /unmatched)
and the forced answers (POST /__capmock/force): every filter, the outcome and
reason of each entry, bad filters as one-line 400s, in memory and in the
workers' shared SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from mockhelpers import call, client
from sources import declared_operations

from capmock.mockserver.auth import expected_header

GET = "/v1.1/customer/get?mobile=19889999999"
ADMIN_JSON = {"X-Capmock-Admin": "1"}


def find(c: FlaskClient, query: str, endpoint: str = "find", status: int = 200) -> Any:
    answer = c.get(f"/__capmock/journal/{endpoint}?{query}")
    assert answer.status_code == status, answer.get_json()
    return answer.get_json()


def force(c: FlaskClient, **body: Any) -> Any:
    return c.post("/__capmock/force", json=body)


@pytest.fixture
def mixed() -> FlaskClient:
    """A mock that received a bit of everything, in this order."""
    c = client()
    c.get(GET)  # answered, json
    c.get(GET + "&format=xml")  # answered, xml
    c.get("/v1.1/customer/get?mobile=19889999999,447000000001")  # a comma list
    c.get("/v1.1/customer/get?mobile=12")  # refused: invalid mobile
    c.get("/v1.1/customer/nothing")  # unmatched: 404
    c.delete(GET)  # unmatched: 405
    c.get(GET, headers={"Prefer": "code=1012"})  # forced, item code 1012
    call(c, "customer_add", "json", headers={"Prefer": "code=1001, item=2"})  # 201: item 2 fails
    return c


def test_every_operation_is_found_by_its_id_in_both_formats() -> None:
    c = client()
    operations = declared_operations()
    for operation in operations:
        for fmt in ("json", "xml"):
            assert call(c, operation, fmt).status_code == 200, operation
    for operation in operations:
        found = find(c, f"operation={operation}")
        assert found["count"] == 2, operation
        assert {e["format"] for e in found["entries"]} == {"json", "xml"}
        assert all(e["outcome"] == "answered" for e in found["entries"])
    assert find(c, "", "count")["count"] == 2 * len(operations)
    assert find(c, "format=xml", "count")["count"] == len(operations)


def test_filters_by_method_path_query_status_and_codes(mixed: FlaskClient) -> None:
    assert find(mixed, "method=delete", "count")["count"] == 1
    assert find(mixed, "path=/v1.1/customer/nothing", "count")["count"] == 1
    mobile = find(mixed, "query.mobile=19889999999")
    assert mobile["count"] == 5  # the comma list counts (447000000001 is a second customer)
    assert find(mixed, "query.mobile=447000000001", "count")["count"] == 1
    assert find(mixed, "query.mobile=19889999999&format=xml", "count")["count"] == 1
    assert find(mixed, "status=404&status=405", "count")["count"] == 2
    assert find(mixed, "code=400", "count")["count"] == 1
    forced = find(mixed, "item_code=1012")
    assert forced["count"] == 1 and forced["entries"][0]["item_codes"] == [1012]
    batch = find(mixed, "operation=customer_add")["entries"][0]
    assert batch["code"] == 201 and 1001 in batch["item_codes"]
    assert find(mixed, "item_code=1001&operation=customer_add", "count")["count"] == 1
    assert find(mixed, "header.prefer=code=1012", "count")["count"] == 1


def test_each_entry_says_what_the_mock_answered_and_why(mixed: FlaskClient) -> None:
    entries = find(mixed, "")["entries"]
    assert [e["outcome"] for e in entries] == [
        "answered", "answered", "answered", "refused", "unmatched", "unmatched", "forced",
        "forced"]
    assert entries[0]["reason"] == "documented example 'default'"
    assert "mobile" in entries[3]["reason"] and "'12'" in entries[3]["reason"]
    assert entries[3]["operation"] == "customer_get"
    assert entries[4]["reason"] == "no resource at /v1.1/customer/nothing"
    assert entries[4]["operation"] is None
    assert "DELETE is not allowed" in entries[5]["reason"]
    assert entries[6]["reason"] == "code=1012"


def test_unmatched_lists_the_unrouted_and_the_refused_with_the_reason(
        mixed: FlaskClient) -> None:
    unmatched = find(mixed, "", "unmatched")
    assert unmatched["count"] == 3
    assert [e["outcome"] for e in unmatched["entries"]] == ["refused", "unmatched", "unmatched"]
    assert all(e["reason"] for e in unmatched["entries"])
    narrowed = find(mixed, "outcome=unmatched", "unmatched")
    assert narrowed["count"] == 2


def test_closest_says_what_differed(mixed: FlaskClient) -> None:
    found = find(mixed, "operation=customer_get&query.mobile=44700900000&closest=2")
    assert found["count"] == 0
    assert found["filter"] == "operation=customer_get, query.mobile=44700900000"
    nearest = found["closest"]
    assert len(nearest) == 2
    assert all(set(n["differs"]) == {"query.mobile"} for n in nearest)
    assert nearest[0]["differs"]["query.mobile"] == "19889999999"  # the newest first


@pytest.mark.parametrize(("query", "says"), [
    ("colour=red", "unknown filter 'colour'"),
    ("status=ok", "status='ok': expected a number"),
    ("item_code=%C2%B2", "item_code='²'"),
    ("format=yaml", "expected json or xml"),
    ("outcome=odd", "expected one of answered, forced, refused, unmatched"),
    ("operation=customer/get", "no such operation"),
    ("closest=99", "closest='99'"),
])
def test_a_bad_filter_is_a_400_with_one_line(query: str, says: str) -> None:
    c = client()
    for endpoint in ("find", "count", "unmatched"):
        error = find(c, query, endpoint, status=400)["error"]
        assert says in error and "\n" not in error


def test_the_dropped_count_is_reported() -> None:
    c = client(journal_size=3)
    for _ in range(5):
        c.get(GET)
    counted = find(c, "", "count")
    assert counted == {"filter": "anything", "count": 3, "dropped": 2}


def test_the_shared_file_answers_the_same(tmp_path: Path) -> None:
    c = client(journal_path=str(tmp_path / "journal.sqlite"))
    c.get(GET, headers={"Prefer": "code=1012"})
    c.get("/v1.1/customer/nothing")
    found = find(c, "item_code=1012")
    assert found["count"] == 1 and found["entries"][0]["outcome"] == "forced"
    assert find(c, "", "unmatched")["entries"][0]["reason"].startswith("no resource")


def test_the_search_needs_the_admin_credentials() -> None:
    c = client(admin_auth="admin:secret")
    assert c.get("/__capmock/journal/find").status_code == 401
    assert c.get("/__capmock/journal/find",
                 headers={"Authorization": expected_header("admin:secret")}).status_code == 200


# --- forced answers -------------------------------------------------------------------

def test_force_answers_the_next_requests_of_one_operation() -> None:
    c = client()
    assert force(c, code=1012, operation="customer_get", times=2).status_code == 200
    assert c.get("/__capmock/force").get_json()["forced"] == [
        {"prefer": "code=1012", "operation": "customer_get", "times": 2}]
    assert call(c, "customer_search", "json").status_code == 200  # another operation
    first, second, third = (c.get(GET).get_json() for _ in range(3))
    item = first["response"]["customers"]["customer"][0]["item_status"]  # an array
    assert item["code"] == "1012" and second == first
    assert third["response"]["status"]["code"] == 200
    assert c.get("/__capmock/force").get_json()["forced"] == []
    entries = find(c, "operation=customer_get")["entries"]
    assert [e["outcome"] for e in entries] == ["forced", "forced", "answered"]
    assert entries[0]["reason"] == "code=1012 (POST /__capmock/force)"
    assert "prefer" not in entries[0]["headers"]  # the request as it was sent


def test_force_a_fault_or_an_example_and_clear() -> None:
    c = client()
    force(c, fault="empty", times=None)
    assert c.get(GET).data == b"" and c.get(GET).data == b""
    assert c.delete("/__capmock/force").get_json() == {"cleared": 1}
    assert c.get(GET).data.startswith(b"{")


@pytest.mark.parametrize(("body", "says"), [
    ({}, "nothing to force"),
    ({"code": 1012, "colour": "red"}, "unknown key colour"),
    ({"code": "1012, example=x"}, "expected a number or a name"),
    ({"code": 12}, "expected a number 100-9999"),
    ({"fault": "boom"}, "expected one of reset"),
    ({"code": 1012, "operation": "nope"}, "unknown operation 'nope'"),
    ({"code": 1012, "times": 0}, "times: expected a number"),
    ([1012], "expected a JSON object"),
])
def test_a_bad_force_is_a_400_with_one_line(body: Any, says: str) -> None:
    c = client()
    answer = force(c, **body) if isinstance(body, dict) else c.post("/__capmock/force",
                                                                      json=body)
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert says in error and "\n" not in error
    assert c.get("/__capmock/force").get_json()["forced"] == []


def test_force_follows_the_admin_write_rules() -> None:
    c = client()
    answer = c.post("/__capmock/force", data='{"code": 1012}', content_type="text/plain")
    assert answer.status_code == 403, answer.get_json()
    assert "X-Capmock-Admin: 1" in answer.get_json()["error"]
    answer = c.post("/__capmock/force", data='{"code": 1012}', headers=ADMIN_JSON)
    assert answer.status_code == 200

"""customer/search in the sandbox: every operator of the query grammar,
&-joined conditions, custom fields and paging (both formats)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sandboxhelpers import empty_sandbox, get, listed, post

from capmock.openapi import contract

PEOPLE = [
    {"mobile": "919000000001", "email": "anna@x.io", "firstname": "Anna", "lastname": "Bell",
     "registered_on": "2020-01-10 10:00:00",
     "custom_fields": {"field": [{"name": "age", "value": "30"}]}},
    {"mobile": "919000000002", "email": "bob@y.io", "firstname": "Bob", "lastname": "Bell",
     "registered_on": "2021-06-01 09:30:00",
     "custom_fields": {"field": [{"name": "age", "value": "40"}]}},
    {"mobile": "919000000003", "email": "cara@x.io", "firstname": "cara", "lastname": "Dunn",
     "registered_on": "2022-03-03 12:00:00"},
]


@pytest.fixture(scope="module")
def client():
    c = empty_sandbox()
    status, _ = post(c, "add", PEOPLE)
    assert status == 200
    return c


def names(client, q: str, fmt: str = "json", paging: str = "") -> list[str]:
    status, answer = get(client, "search", f"q={quote(q, safe=':;')}{paging}", fmt)
    assert status == 200
    assert contract.json_errors("customer_search", "response", {"response": answer},
                                "strict") == []
    results = answer["customer"]["results"]
    return [i["firstname"] for i in listed(results["item"] if results else "")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(("q", "expected"), [
    ("firstname:EXACT:Anna", ["Anna"]),
    ("firstname:EXACT:anna", []),
    ("firstname:EQUALS:CARA", ["cara"]),
    ("lastname:STARTS:be", ["Anna", "Bob"]),
    ("email:ENDS:@x.io", ["Anna", "cara"]),
    ("mobile:IN:919000000001;919000000003", ["Anna", "cara"]),
    ("mobile:EQUALS:919000000002", ["Bob"]),
    ("registered_date:RANGE:2020-01-01;2021-06-01", ["Anna", "Bob"]),
    ("registered_date:LESS:2021-01-01", ["Anna"]),
    ("registered_date:GREATER:2021-01-01", ["Bob", "cara"]),
    ("age:30", ["Anna"]),
    ("age:GREATER:35", ["Bob"]),
    ("lastname:EQUALS:Bell&age:40", ["Bob"]),
])
def test_query_grammar(client, fmt: str, q: str, expected: list[str]) -> None:
    assert names(client, q, fmt) == expected


def test_numeric_operators_compare_numbers(client) -> None:
    assert names(client, "loyalty_points:RANGE:0;0") == ["Anna", "Bob", "cara"]
    assert names(client, "loyalty_points:GREATER:0") == []


def test_start_and_rows_page_the_results(client) -> None:
    assert names(client, "email:ENDS:.io", paging="&start=1&rows=1") == ["Bob"]
    _, answer = get(client, "search", "q=email:ENDS:.io&start=1&rows=1")
    assert (answer["customer"]["count"], answer["customer"]["start"],
            answer["customer"]["rows"]) == ("3", "1", "1")


@pytest.mark.parametrize("q", ["lifetime_points:GREATER:many", "registered_date:RANGE:2020"])
def test_a_malformed_condition_is_a_400_naming_it(client, q: str) -> None:
    status, answer = get(client, "search", f"q={q}")
    assert status == 400 and q.split(":")[0] in answer["status"]["message"]

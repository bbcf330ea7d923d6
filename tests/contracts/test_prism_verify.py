"""A self-test against a server nobody here wrote: Stoplight Prism serving
the project's own document. `capmock verify` runs to the end, exits 1 and
reports exactly the divergences Prism really has, each under the right check,
with no crash and no error outside the matrix. The findings are listed here,
so a new false alarm (or a lost finding) fails the test.

What Prism really does differently from the platform (seed 0, examples and
coverage phases, deterministic):
- no X-Cap-Requestid header on any answer;
- JSON for a request that asked for XML (Prism serves the JSON examples), and
  Content-Type without a charset;
- documented XML request bodies answered with a request-level 400: Prism
  cannot read XML bodies;
- a request naming no customer (no mobile, email, external_id or id) answered
  with the documented success: the "at least one identifier" rule is not
  expressible in OpenAPI, so Prism does not know it;
- a wrong HTTP method (PUT, TRACE, ...) answered 405 with Prism's own body,
  not the Capillary envelope ("Incorrect HTTP Method"): the JSON schema and
  the envelope checks both see it, in both formats (schemathesis tries the
  other methods once per path, under one operation of it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from prismserver import prism

from capmock.openapi import contract

pytestmark = [pytest.mark.prism, pytest.mark.slow]

CAPMOCK = str(Path(sys.executable).with_name("capmock"))
ALL = tuple(contract.operations())
POSTS = tuple(op for op in ALL if contract.operations()[op].method == "POST")
NO_IDENTIFIER = ("customer_coupons", "customer_get", "customer_interaction",
                 "customer_notes_get", "customer_preferences_get", "customer_recommendations",
                 "customer_redemptions", "customer_referrals_get", "customer_subscriptions_get",
                 "customer_tickets_get", "customer_transactions")
# schemathesis tries other methods once per path
WRONG_METHOD = ("customer_add", "customer_coupons", "customer_get", "customer_interaction",
                "customer_notes_add", "customer_preferences_update", "customer_recommendations",
                "customer_redemptions", "customer_referrals_add", "customer_search",
                "customer_subscriptions_update", "customer_tickets_add", "customer_transactions",
                "customer_update", "customer_update_identity")

EXPECTED: dict[str, tuple[str, ...]] = {}
for fmt in ("json", "xml"):
    EXPECTED[f"request_id_is_unique {fmt}"] = ALL
    EXPECTED[f"format_is_honoured {fmt}"] = ALL
    EXPECTED[f"errors_are_documented {fmt}"] = NO_IDENTIFIER
    EXPECTED[f"envelope_is_coherent {fmt}"] = WRONG_METHOD
    EXPECTED[f"json_conforms_to_schema {fmt}"] = WRONG_METHOD
EXPECTED["documented_sample_is_accepted xml"] = POSTS
MESSAGES = {  # a phrase each finding's message carries
    "request_id_is_unique": "no X-Cap-Requestid header",
    "format_is_honoured": ("asked for xml, got json", "Content-Type has no charset"),
    "errors_are_documented": "a request the contract rejects was answered with request-level 200",
    "documented_sample_is_accepted": "answered with request-level code 400",
    "envelope_is_coherent": "no response.status block",
    "json_conforms_to_schema": "'response' is a required property",
}


def findings(report: dict) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for cell in report["cells"]:
        if cell["state"] == "fail":
            out.setdefault(f"{cell['check']} {cell['format']}", []).append(cell["operation"])
    return {key: tuple(sorted(ops)) for key, ops in out.items()}


def test_verify_reports_exactly_prisms_divergences(tmp_path: Path) -> None:
    report = tmp_path / "prism.json"
    with prism(tmp_path) as base_url:
        result = subprocess.run(
            [CAPMOCK, "verify", "--base-url", base_url, "--auth", "till1:123",
             "--phases", "examples,coverage", "--max-examples", "1",
             "--json-report", str(report)],
            capture_output=True, text=True, timeout=1200, check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["errors"] == []
    assert findings(data) == {key: tuple(sorted(ops)) for key, ops in EXPECTED.items()}
    for cell in data["cells"]:
        if cell["state"] == "fail":
            phrases = MESSAGES[cell["check"]]
            phrases = phrases if isinstance(phrases, tuple) else (phrases,)
            assert any(p in f for f in cell["failures"] for p in phrases), cell
            assert all(" /v1.1/customer/" in f.split(":")[0] and f"({cell['format']})" in
                       f.split(":")[0] for f in cell["failures"]), cell["failures"]

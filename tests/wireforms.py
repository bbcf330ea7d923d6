"""The mock's defaults before the platform wire (issue 14): the document's JSON
form and the mirror HTTP status policy.

The tests written for them (they compare bodies with the samples as documented,
string codes, one-item objects, HTTP 500 for an item failure) pin them here, so
they keep testing what they were written for; the new defaults, platform and
platform, have their own tests (tests/mockserver/test_wire_fidelity.py).
"""

from __future__ import annotations

from typing import Any

DOCUMENT_FORM: dict[str, Any] = {"wire": "document", "http_status": "mirror"}


def pinned(settings: dict[str, Any]) -> dict[str, Any]:
    """settings, with the document's form and mirror wherever they do not say."""
    return {**DOCUMENT_FORM, **settings}

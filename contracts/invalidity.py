"""Is a request invalid by the contract? The suite judges a server's answer to
an invalid request only when the contract itself says the request is invalid:
schemathesis also counts undocumented extra parameters as negative, which the
lenient platform rightly ignores. The judge is the contract layer's request
validation (capmock.openapi.validation), the one the mock and the proxy use,
on the request as the server received it (an XML body as the codec rendered
the generated data). Limits a server may set differently (the batch limit, the
nesting depth) are not the contract's: no request is called invalid for them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from capmock.contracts.options import MEDIA
from capmock.openapi import contract, validation
from capmock.openapi.codec import CodecError, data_to_xml

NO_LIMIT = sys.maxsize  # items per request: a server's own setting, not the contract's
DEPTH = 256  # nesting: what libxml2 reads at all without huge_tree, far past any schema


def query_pairs(query: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(name, str(v)) for name, value in (query or {}).items()
            for v in (value if isinstance(value, list) else [value])]


def encoded(body: Any, media_type: str | None) -> bytes | None:
    """The body as sent; None when XML cannot hold the generated data."""
    if body is None:
        return b""
    if (media_type or "").endswith("json"):
        return json.dumps(body).encode("utf-8")
    try:
        return data_to_xml({"root": body})
    except CodecError:
        return None


def request_is_invalid(op: contract.Operation, case: Any) -> bool:
    """True when the contract rejects the request's documented parts."""
    media_type = case.media_type or MEDIA["json"]
    body = encoded(case.body, media_type) if "request" in op.body_schemas else b""
    if body is None:
        return True
    checked = validation.check_request(op, query_pairs(case.query), media_type, body,
                                       batch_limit=NO_LIMIT, max_depth=DEPTH)
    return bool(checked.problems)

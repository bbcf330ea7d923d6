"""Is a request invalid by the contract? The suite judges a server's answer to
an invalid request only when the contract itself says the request is invalid:
schemathesis also counts undocumented extra parameters as negative, which the
lenient platform rightly ignores."""

from __future__ import annotations

from typing import Any

from capmock.openapi import contract, parameters, validation
from capmock.openapi.codec import CodecError, data_to_xml, xml_to_data

FLAGS = ("true", "false")


def query_pairs(query: dict[str, Any] | None) -> list[tuple[str, str]]:
    return [(name, str(v)) for name, value in (query or {}).items()
            for v in (value if isinstance(value, list) else [value])]


def query_is_invalid(op: contract.Operation, query: dict[str, Any]) -> bool:
    checks = parameters.checks(op.id)
    for name, value in query.items():
        values = value if isinstance(value, list) else [value]
        if name in checks and any(checks[name](str(v)) for v in values):
            return True
    if op.identifiers:
        pairs = [(name, str(v)) for name, value in query.items()
                 for v in (value if isinstance(value, list) else [value])]
        if validation.pair_identifier(op, pairs) is not None:  # identifierName/Value
            return bool(validation.query_problems(op, pairs, batch_limit=len(pairs) + 1000))
        sent = [n for n in op.identifiers if query.get(n) not in (None, "", *FLAGS)]
        return not sent
    return False


def body_is_invalid(op: contract.Operation, body: Any, media_type: str | None) -> bool:
    """Judge the body the server received: for XML, the generated data as the
    codec rendered it (an empty list, for instance, becomes no element)."""
    if "request" not in op.body_schemas:
        return False
    if (media_type or "").endswith("json"):
        return bool(contract.json_errors(op.id, "request", body, "lenient"))
    try:
        xml = data_to_xml({"root": body})
    except CodecError:
        return True
    return bool(contract.xml_errors(op.id, "request", xml, "lenient")
                or contract.json_errors(op.id, "request", xml_to_data(xml), "lenient"))


def request_is_invalid(op: contract.Operation, case: Any) -> bool:
    """True when the contract rejects the request's documented parts."""
    return query_is_invalid(op, case.query or {}) or body_is_invalid(
        op, case.body, case.media_type)

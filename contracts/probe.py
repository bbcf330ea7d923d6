"""Does the server under test hold state? Register a customer with a fresh
identifier and read it back: a replaying mock answers with its fixed sample.
The probe registers one customer named capmock-probe on the server.

Any answer that is not the customer read back (a string, HTML, no answer at
all) means "no": the stateful checks are then left out with that reason,
and the stateless checks judge whatever the server does answer."""

from __future__ import annotations

import json
from typing import Any

from capmock.contracts import transport
from capmock.contracts.options import Options
from capmock.contracts.runid import unique_mobile

STATELESS = "needs a server that holds state; a registered customer was not read back"


def probe_body(mobile: str) -> dict[str, Any]:
    return {"root": {"customer": [{"mobile": mobile, "firstname": "capmock",
                                   "lastname": "probe"}]}}


def first_customer(data: Any) -> Any:
    """response.customers.customer (or its first item), whatever the shape."""
    node: Any = data
    for key in ("response", "customers", "customer"):
        node = node.get(key) if isinstance(node, dict) else None
    return node[0] if isinstance(node, list) and node else node


def holds_state(options: Options) -> bool:
    """True when a fresh registration is read back by customer/get."""
    mobile = unique_mobile()
    try:
        transport.send(options, "json", "POST", "/v1.1/customer/add",
                       json.dumps(probe_body(mobile)).encode(), {"format": "json"})
        got = transport.send(options, "json", "GET", "/v1.1/customer/get", None,
                             {"format": "json", "mobile": mobile})
    except transport.NoAnswer:
        return False
    customer = first_customer(transport.as_data(got))
    return isinstance(customer, dict) and customer.get("mobile") == mobile

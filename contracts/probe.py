"""Does the server under test hold state? Register a customer with a fresh
identifier and read it back: a replaying mock answers with its fixed sample.
The probe registers one customer named capmock-probe on the server."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from werkzeug.test import Client

from capmock.contracts.options import Options
from capmock.openapi.platform_auth import basic_header

STATELESS = "needs a server that holds state; a registered customer was not read back"


def probe_body(mobile: str) -> dict[str, Any]:
    return {"root": {"customer": [{"mobile": mobile, "firstname": "capmock",
                                   "lastname": "probe"}]}}


def send(options: Options, method: str, path: str, body: dict | None) -> Any:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if options.auth:
        headers["Authorization"] = basic_header(options.auth)
    data = json.dumps(body) if body is not None else None
    if options.app is not None:
        response = Client(options.app).open(path, method=method, data=data, headers=headers)
        return json.loads(response.get_data())
    url = options.base_url.rstrip("/") + path
    return requests.request(method, url, data=data, headers=headers, timeout=30).json()


def holds_state(options: Options) -> bool:
    """True when a fresh registration is read back by customer/get."""
    mobile = "9" + str(time.time_ns())[-11:]
    try:
        send(options, "POST", "/v1.1/customer/add?format=json", probe_body(mobile))
        got = send(options, "GET", f"/v1.1/customer/get?format=json&mobile={mobile}", None)
    except (requests.RequestException, ValueError):
        return False
    customer = got.get("response", {}).get("customers", {}).get("customer")
    customer = customer[0] if isinstance(customer, list) and customer else customer
    return isinstance(customer, dict) and customer.get("mobile") == mobile

"""A partner's loyalty client: the code under test in these examples.

A small client of the Capillary customer API, as a partner would write it
with requests: look up a customer's points, register a customer; a retry on a
dropped connection; errors the API reports become exceptions.
"""

from __future__ import annotations

import requests


class LoyaltyError(Exception):
    """The API could not be used (refused, broken answer, network)."""


class CustomerNotFound(LoyaltyError):
    pass


NOT_FOUND = {"1012", "1013"}  # item codes of an unknown customer
# A connection closed before the answer (ConnectionError) or during its body
# (ChunkedEncodingError: requests' name for an incomplete read).
DROPPED = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class LoyaltyClient:
    def __init__(self, base_url: str, retries: int = 1, timeout: float = 5) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries, self.timeout = retries, timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: object) -> dict:
        for attempt in range(self.retries + 1):
            try:
                answer = self.session.request(method, f"{self.base_url}/{path}",
                                              timeout=self.timeout, **kwargs)
                return answer.json()["response"]
            except DROPPED as error:  # reset, truncated: retry
                if attempt == self.retries:
                    raise LoyaltyError(f"no answer from the API: {error}") from error
            except (ValueError, KeyError) as error:  # empty, garbage
                raise LoyaltyError(f"not an API answer: {error}") from error
        raise AssertionError("unreachable")

    def points(self, mobile: str) -> int:
        response = self._call("GET", "customer/get", params={"mobile": mobile, "format": "json"})
        customer = first(response, "customers", "customer")
        if customer["item_status"]["code"] in NOT_FOUND:
            raise CustomerNotFound(mobile)
        return int(customer["loyalty_points"] or 0)

    def register(self, mobile: str, firstname: str, email: str) -> str:
        body = {"root": {"customer": [{"mobile": mobile, "firstname": firstname,
                                       "email": email}]}}
        response = self._call("POST", "customer/add", params={"format": "json"}, json=body)
        customer = first(response, "customers", "customer")
        item = customer["item_status"]
        if item["success"] != "true":
            raise LoyaltyError(f"{item['code']} {item['message']}")
        return customer["user_id"]


def first(response: dict, *path: str) -> dict:
    """The first item of a response; the JSON is converted from XML, so one
    item is an object and several are an array. A request-level error has none."""
    node = response
    for key in path:
        if not isinstance(node, dict) or key not in node:
            status = response.get("status", {})
            raise LoyaltyError(f"{status.get('code')} {status.get('message')}")
        node = node[key]
    return node[0] if isinstance(node, list) else node

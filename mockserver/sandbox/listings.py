"""Operations answered from data (listings.yaml): a customer's records of one
kind, listed in the customer's element. Each entry of the table becomes a
handler of the usual signature (Call, Tx) -> dict, so the sandbox answers a new
operation of this shape without a module of its own."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from capmock import fixtures
from capmock.mockserver.sandbox.results import each_customer, one_or_many, succeeded
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx
from capmock.mockserver.sandbox.views import pick
from capmock.openapi import clean, envelope

Handler = Callable[[Call, Tx], dict[str, Any]]


@dataclass(frozen=True)
class Listing:
    """One entry of listings.yaml."""

    records: str
    at: tuple[str, ...]
    fields: tuple[str, ...] = ()
    count: str | None = None
    limit: str | None = None
    default_limit: int | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Listing:
        return cls(records=entry["records"], at=tuple(entry["at"]),
                   fields=tuple(entry.get("fields", ())), count=entry.get("count"),
                   limit=entry.get("limit"), default_limit=entry.get("default_limit"))


@functools.cache
def table() -> dict[str, Listing]:
    text = resources.files("capmock.mockserver.sandbox").joinpath("listings.yaml")
    data = fixtures.parse_yaml(text.read_text("utf-8"))
    return {op: Listing.of(entry) for op, entry in (data.get("operations") or {}).items()}


def cap(listing: Listing, query: dict[str, str]) -> int | None:
    """How many records to show: the limit parameter when it is a whole number, else the default."""
    sent = clean.whole_number(query.get(listing.limit)) if listing.limit else None
    return sent if sent is not None else listing.default_limit


def view(listing: Listing, call: Call, tx: Tx, customer: Customer) -> dict[str, Any]:
    """The customer's element: its fields, the count, the list, item_status."""
    docs = [r.doc for r in tx.records(customer.id, listing.records)]
    most = cap(listing, call.query)
    shown = docs if most is None else docs[:most]
    out = pick(customer.doc, listing.fields)
    if listing.count:
        out[listing.count] = str(len(shown))
    out.update(envelope.nest(list(listing.at), one_or_many(shown)))
    out["item_status"] = succeeded(call.op.id)
    return out


def handler(listing: Listing) -> Handler:
    def answer(call: Call, tx: Tx) -> dict[str, Any]:
        return each_customer(call, tx, lambda c, t, customer: view(listing, c, t, customer))

    return answer


def handlers() -> dict[str, Handler]:
    return {op: handler(listing) for op, listing in table().items()}

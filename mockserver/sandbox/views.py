"""How a stored customer appears in each answer (the documented samples'
shapes: strings for numbers, the fields each operation shows)."""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox.store import IDENTIFIER_COLUMNS, Customer

IDENTIFIERS = IDENTIFIER_COLUMNS
LOYALTY = ("lifetime_points", "lifetime_purchases", "loyalty_points", "current_slab")
NAMES = ("firstname", "lastname")


def pick(doc: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {n: doc.get(n) if doc.get(n) is not None else "" for n in names}


def identity(customer: Customer, id_name: str = "user_id") -> dict[str, Any]:
    """user_id (or id) and the three identifiers; unset ones are empty."""
    return {id_name: customer.user_id, **pick(customer.doc, IDENTIFIERS)}


def fields_node(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """{"field": [...]} for custom_fields and extended_fields."""
    return {"field": [dict(p) for p in pairs]}


def profile_view(customer: Customer) -> dict[str, Any]:
    """The profile as customer/add and customer/update answer it."""
    doc = customer.doc
    out = {**identity(customer), **pick(doc, NAMES), "registered_on": doc.get("registered_on", ""),
           "updated_on": doc.get("updated_on", ""), **pick(doc, LOYALTY)}
    if doc.get("extended_fields"):
        out["extended_fields"] = fields_node(doc["extended_fields"])
    if doc.get("custom_fields"):
        out["custom_fields"] = fields_node(doc["custom_fields"])
    return out

"""Writing a customer's profile by the document's rules (Register Customers,
Update Customer Details):

- "Updates null identifiers, i.e., null to value, but not value to value":
  an identifier already set keeps its value, unless the Registration
  Configuration allows changing it (customer/update only, CONF_ALLOW_*);
  the answer shows the stored value, so the client sees what was kept.
- An identifier that belongs to another customer fails the item:
  mobile 1032, email 1016, external_id 1033 (rules.yaml: identifier_taken).
- Custom and extended fields merge by name (case-insensitive); other
  profile fields are replaced when sent.
"""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox.results import listed
from capmock.mockserver.sandbox.store import IDENTIFIER_COLUMNS, Customer, Tx, identifier_key
from capmock.openapi.outcomes import code_for

IDENTIFIERS = IDENTIFIER_COLUMNS
PROFILE = ("firstname", "lastname", "type")
FIELD_LISTS = ("custom_fields", "extended_fields")
NEW_CUSTOMER = {"lifetime_points": "0", "lifetime_purchases": "0", "loyalty_points": "0",
                "current_slab": "", "type": "LOYALTY", "source": "instore",
                "fraud_details": {"status": "NONE", "marked_by": "", "modified_on": ""}}


def taken(op_id: str, name: str) -> int:
    """The code for an identifier that belongs to another customer."""
    return code_for(op_id, "identifier_taken", name) or 0


def sent_fields(item: dict[str, Any], key: str) -> list[dict[str, Any]]:
    node = item.get(key)
    fields = listed(node.get("field")) if isinstance(node, dict) else []
    return [{k: f[k] for k in ("name", "value") if k in f} for f in fields
            if isinstance(f, dict) and isinstance(f.get("name"), str)]


def merge_fields(stored: list[dict[str, Any]], sent: list[dict[str, Any]]) -> list[dict]:
    merged = {f["name"].lower(): f for f in stored}
    for field in sent:
        merged[field["name"].lower()] = field
    return list(merged.values())


def merge_profile(doc: dict[str, Any], item: dict[str, Any], now: str) -> None:
    for key in PROFILE:
        if isinstance(item.get(key), str) and item[key] != "":
            doc[key] = item[key]
    for key in FIELD_LISTS:
        sent = sent_fields(item, key)
        if sent:
            doc[key] = merge_fields(doc.get(key) or [], sent)
    doc["updated_on"] = now


def new_doc(item: dict[str, Any], now: str) -> dict[str, Any]:
    doc: dict[str, Any] = {**NEW_CUSTOMER}
    doc.update({k: item[k] for k in IDENTIFIERS if isinstance(item.get(k), str) and item[k]})
    doc["registered_on"] = item.get("registered_on") or now
    merge_profile(doc, item, now)
    return doc


def set_identifiers(op_id: str, tx: Tx, customer: Customer, item: dict[str, Any],
                    may_change: dict[str, bool]) -> int:
    """Fill null identifiers (and change set ones where allowed); the failing
    code when a value belongs to another customer, else 0."""
    for name in IDENTIFIERS:
        value = item.get(name)
        if not isinstance(value, str) or not value:
            continue
        stored = customer.doc.get(name)
        if identifier_key(name, value) == identifier_key(name, stored):
            continue
        holder = tx.customer(name, value)
        if holder is not None and holder.id != customer.id:
            return taken(op_id, name)
        if not stored or may_change.get(name, False):
            customer.doc[name] = value
    return 0


def owners(tx: Tx, item: dict[str, Any]) -> dict[str, Customer]:
    """The customers the item's identifiers already belong to, by identifier."""
    found = {}
    for name in IDENTIFIERS:
        value = item.get(name)
        if isinstance(value, str) and value:
            customer = tx.customer(name, value)
            if customer is not None:
                found[name] = customer
    return found

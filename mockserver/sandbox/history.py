"""customer/transactions, customer/redemptions, customer/coupons and
customer/interaction: a customer's history, read from the sandbox's records.

Record kinds; each doc is the element as the documented GET answer shows it,
plus the filter-only fields named here (never shown):
- transactions: a Transaction (id, number, type, amount, billing_time, store ...);
  filter-only: store_id, store_code, till_id, till_code, till_name.
- coupon_redemptions: a redemptions/coupons/coupon element (no filter-only field).
- point_redemptions: a redemptions/points/point element (no filter-only field).
- coupons: an issued coupon with its redemptions inside (redemptions/redemption);
  filter-only: series_id, amount (the coupon's value, for order_by=amount) and
  store_ids (ids of the stores where it can be redeemed; absent: every store).
- interactions: one network element per record ({name, interaction: [...]}), as
  the sample shows it; records naming the same network are shown as one network.

Decisions where the document is vague (one line each):
- Dates: start_date..end_date is inclusive; a date alone means 00:00:00 / 23:59:59.
- Dates: a record without a time is outside every window.
- Dates: a coupon's created_date compares by its local time (the offset is ignored).
- transactions: start_id/end_id are inclusive bounds of the id (not digit prefixes/suffixes).
- transactions: amount and the *_id filters compare as numbers, number as exact text.
- transactions: store_name compares with the shown `store`; names and codes ignore case.
- transactions: a credit note is a transaction of type RETURN, listed only if credit_notes=true.
- transactions: custom_fields changes nothing (the Transaction element has no custom fields).
- transactions: sort defaults to trans_date, order to desc; ties go by id.
- transactions: count = matching, rows = shown (after limit), start = id of the first shown.
- transactions: user_id is shown when the request names customers by user_id.
- redemptions: limit caps coupons and points together, in the answer's order.
- redemptions: coupons_limit / points_limit cap their own list (before limit).
- redemptions: *_start_id/*_end_id are inclusive id bounds of their kind.
- redemptions: limits and id bounds apply with or without `type`.
- redemptions: with `type`, the other kind's node, count and start id are left out.
- redemptions: sort defaults to redeemed_time, order to desc (the table; the sample is asc).
- redemptions: rows = shown; coupons_count/points_count = matching, before limits.
- redemptions: *_start_id = lowest id shown minus one (sample: 3 -> 2), "" when none.
- coupons: redeemed if it has a redemption, else expired if valid_till < today, else active.
- coupons: status takes several values separated by ';' (any of them).
- coupons: store_id lists only the active coupons redeemable at that store.
- coupons: order_by defaults to created_date, sort_order to desc; ties go by id.
- coupons: redemption_count is the number of redemptions the coupon lists.
- interaction: network and type match exactly; networks left empty are not shown.
- interaction: a window filters the details by time (locs: time, messages, surveys: sent_time).
- interaction: with a window, interactions left without details are dropped (tweet counts too).
- interaction: count = number of details when there are any, else the stored count.
- interaction: latest_* of a survey interaction come from its latest survey (sent_time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from capmock.mockserver.sandbox import results
from capmock.mockserver.sandbox.results import day_bound, each_customer, listed, succeeded
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Record, Tx
from capmock.mockserver.sandbox.views import IDENTIFIERS, NAMES, pick
from capmock.openapi import clean

Doc = dict[str, Any]
Test = Callable[[Doc, str], bool]


# --- shared helpers ---------------------------------------------------------------------

def dicts(value: Any) -> list[Doc]:
    """The objects of a repeated element (a hand-written file may hold anything)."""
    return [v for v in listed(value) if isinstance(v, dict)]


def number(value: Any) -> Decimal | None:
    try:
        parsed = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return parsed if parsed.is_finite() else None


def id_of(doc: Doc) -> Decimal:
    return number(doc.get("id")) or Decimal(0)


def window(call: Call) -> tuple[str, str] | None:
    """The request's date window as "YYYY-MM-DD hh:mm:ss" bounds, or None."""
    start, end = call.query.get("start_date"), call.query.get("end_date")
    if not start and not end:
        return None
    return day_bound(start or "0000-01-01", False), day_bound(end or "9999-12-31", True)


def local_time(value: Any) -> str:
    """The "YYYY-MM-DD hh:mm:ss" part of a datetime, ISO timestamp or date ("" if none)."""
    text = str(value or "").strip().replace("T", " ")
    if len(text) < 10:
        return ""
    return text[:19] if len(text) > 10 else f"{text} 00:00:00"


def within(value: Any, bounds: tuple[str, str] | None) -> bool:
    if bounds is None:
        return True
    time = local_time(value)
    return bool(time) and bounds[0] <= time <= bounds[1]


def same_number(field: str) -> Test:
    return lambda doc, value: number(doc.get(field)) == number(value)


def same_text(field: str) -> Test:
    return lambda doc, value: str(doc.get(field) or "").lower() == value.lower()


def id_from(doc: Doc, value: str) -> bool:
    return id_of(doc) >= (number(value) or 0)


def id_to(doc: Doc, value: str) -> bool:
    return id_of(doc) <= (number(value) or 0)


def matching(docs: list[Doc], tests: Mapping[str, Test], query: dict[str, str]) -> list[Doc]:
    """The docs passing the test of every parameter the request sent."""
    sent = [(test, query[name]) for name, test in tests.items() if query.get(name)]
    return [d for d in docs if all(test(d, value) for test, value in sent)]


def limited(docs: list[Any], limit: str | None) -> list[Any]:
    count = clean.whole_number(limit)
    return docs[:count] if count is not None else docs


def shown(doc: Doc, hidden: tuple[str, ...]) -> Doc:
    return {k: v for k, v in doc.items() if k not in hidden}


def with_id(record: Record) -> Doc:
    """The record's doc; one without an id shows the record's id."""
    return record.doc if record.doc.get("id") else {"id": str(record.id), **record.doc}


def docs_of(tx: Tx, customer: Customer, kind: str) -> list[Doc]:
    return [with_id(r) for r in tx.records(customer.id, kind)]


def ok(call: Call) -> dict[str, str]:
    return succeeded(call.op.id)


def by_user_id(call: Call) -> bool:
    return any(results.by_user_id(item) for item in call.items)


# --- customer/transactions ---------------------------------------------------------------

TRANSACTION_HIDDEN = ("store_id", "store_code", "till_id", "till_code", "till_name")
CREDIT_NOTE_TYPES = ("RETURN",)
TRANSACTION_TESTS: dict[str, Test] = {
    "transaction_id": same_number("id"),
    "transaction_date": lambda t, value: local_time(t.get("billing_time"))[:10] == value,
    "amount": same_number("amount"),
    "number": lambda t, value: str(t.get("number") or "") == value,
    "till_id": same_number("till_id"),
    "till_name": same_text("till_name"),
    "till_code": same_text("till_code"),
    "store_id": same_number("store_id"),
    "store_name": same_text("store"),
    "store_code": same_text("store_code"),
    "start_id": id_from,
    "end_id": id_to,
}


def select_transactions(call: Call, docs: list[Doc]) -> list[Doc]:
    bounds = window(call)
    docs = [t for t in matching(docs, TRANSACTION_TESTS, call.query)
            if within(t.get("billing_time"), bounds)]
    if call.query.get("credit_notes") != "true":
        docs = [t for t in docs if str(t.get("type", "")).upper() not in CREDIT_NOTE_TYPES]
    if call.query.get("sort") == "trans_id":
        docs.sort(key=id_of)
    else:
        docs.sort(key=lambda t: (local_time(t.get("billing_time")), id_of(t)))
    return docs if call.query.get("order") == "asc" else docs[::-1]


def transactions_view(call: Call, tx: Tx, customer: Customer) -> Doc:
    found = select_transactions(call, docs_of(tx, customer, "transactions"))
    rows = [shown(t, TRANSACTION_HIDDEN) for t in limited(found, call.query.get("limit"))]
    doc = customer.doc
    out: Doc = {"user_id": customer.user_id} if by_user_id(call) else {}
    out.update(pick(doc, (*IDENTIFIERS, *NAMES, "lifetime_points", "lifetime_purchases",
                          "loyalty_points", "registered_on", "updated_on", "current_slab")))
    out.update(count=str(len(found)), start=rows[0]["id"] if rows else "", rows=str(len(rows)),
               transactions={"transaction": rows}, item_status=ok(call))
    return out


def transactions(call: Call, tx: Tx) -> Doc:
    return each_customer(call, tx, transactions_view)


# --- customer/redemptions -----------------------------------------------------------------

REDEMPTION_KINDS = {"coupons": ("coupon_redemptions", "coupon"),
                    "points": ("point_redemptions", "point")}


def select_redemptions(call: Call, docs: list[Doc], kind: str) -> list[Doc]:
    """The redemptions of `kind` matching the filters, in the answer's order (no limit)."""
    q, bounds = call.query, window(call)
    tests = {f"{kind}_start_id": id_from, f"{kind}_end_id": id_to}
    docs = [d for d in matching(docs, tests, q) if within(d.get("redeemed_time"), bounds)]
    return sorted(docs, key=redemption_order(call), reverse=q.get("order") != "asc")


def redemption_order(call: Call) -> Callable[[Doc], Any]:
    if call.query.get("sort") == "redemption_id":
        return id_of
    return lambda d: (local_time(d.get("redeemed_time")), id_of(d))


def overall_limit(call: Call, lists: dict[str, list[Doc]]) -> dict[str, list[Doc]]:
    """`limit` keeps the first redemptions of both kinds together, in the answer's order."""
    if not call.query.get("limit"):
        return lists
    key, descending = redemption_order(call), call.query.get("order") != "asc"
    tagged = sorted((d for docs in lists.values() for d in docs), key=key, reverse=descending)
    kept = {id(d) for d in limited(tagged, call.query["limit"])}
    return {kind: [d for d in docs if id(d) in kept] for kind, docs in lists.items()}


def redemptions_view(call: Call, tx: Tx, customer: Customer) -> Doc:
    kinds = [call.query["type"]] if call.query.get("type") else list(REDEMPTION_KINDS)
    found = {k: select_redemptions(call, docs_of(tx, customer, REDEMPTION_KINDS[k][0]), k)
             for k in kinds}
    lists = overall_limit(call, {k: limited(docs, call.query.get(f"{k}_limit"))
                                 for k, docs in found.items()})
    out = {**pick(customer.doc, (*IDENTIFIERS, *NAMES)),
           "rows": str(sum(len(docs) for docs in lists.values()))}
    for kind, docs in lists.items():
        out[f"{kind}_count"] = str(len(found[kind]))
        out[f"{kind}_start_id"] = str(min(id_of(d) for d in docs) - 1) if docs else ""
    out["redemptions"] = {k: {REDEMPTION_KINDS[k][1]: docs} for k, docs in lists.items()}
    out["item_status"] = ok(call)
    return out


def redemptions(call: Call, tx: Tx) -> Doc:
    return each_customer(call, tx, redemptions_view)


# --- customer/coupons ----------------------------------------------------------------------

COUPON_HIDDEN = ("series_id", "amount", "store_ids")
COUPON_ORDER: dict[str, Callable[[Doc], Any]] = {
    "created_date": lambda c: (local_time(c.get("created_date")), id_of(c)),
    "amount": lambda c: (number(c.get("amount")) or Decimal(0), id_of(c)),
    "valid_till": lambda c: (str(c.get("valid_till") or ""), id_of(c)),
}


def uses(coupon: Doc) -> list[Any]:
    node = coupon.get("redemptions")
    return dicts(node.get("redemption")) if isinstance(node, dict) else []


def coupon_status(coupon: Doc, today: str) -> str:
    if uses(coupon):
        return "redeemed"
    valid_till = str(coupon.get("valid_till") or "")
    return "expired" if valid_till and valid_till[:10] < today else "active"


def redeemable_at(coupon: Doc, store_id: str) -> bool:
    stores = [number(s) for s in listed(coupon.get("store_ids"))]
    return not stores or number(store_id) in stores


def select_coupons(call: Call, docs: list[Doc]) -> list[Doc]:
    q, bounds, today = call.query, window(call), call.now.strftime("%Y-%m-%d")
    docs = [c for c in matching(docs, {"series_id": same_number("series_id")}, q)
            if within(c.get("created_date"), bounds)]
    if q.get("status"):
        wanted = set(q["status"].split(";"))
        docs = [c for c in docs if coupon_status(c, today) in wanted]
    if q.get("store_id"):
        docs = [c for c in docs if coupon_status(c, today) == "active"
                and redeemable_at(c, q["store_id"])]
    docs.sort(key=COUPON_ORDER[q.get("order_by") or "created_date"])
    return docs if q.get("sort_order") == "asc" else docs[::-1]


def coupon_view(coupon: Doc) -> Doc:
    out = shown(coupon, COUPON_HIDDEN)
    out["redemption_count"] = str(len(uses(coupon)))
    return out


def coupons_view(call: Call, tx: Tx, customer: Customer) -> Doc:
    found = select_coupons(call, docs_of(tx, customer, "coupons"))
    return {**pick(customer.doc, (*NAMES, *IDENTIFIERS)), "id": customer.user_id,
            "coupons": {"coupon": [coupon_view(c) for c in found]}, "item_status": ok(call)}


def coupons(call: Call, tx: Tx) -> Doc:
    return each_customer(call, tx, coupons_view)


# --- customer/interaction -------------------------------------------------------------------

DETAILS = (("locs", "loc", "time"), ("messages", "message", "sent_time"),
           ("surveys", "survey", "sent_time"))


def details_of(interaction: Doc) -> tuple[str, str, str, list[Doc]] | None:
    """The dated details an interaction lists (container, element, time field, items)."""
    for container, element, time in DETAILS:
        node = interaction.get(container)
        items = dicts(node.get(element)) if isinstance(node, dict) else []
        if items:
            return container, element, time, items
    return None


def dated(interaction: Doc, bounds: tuple[str, str] | None) -> Doc | None:
    """The interaction with its details inside the window, counted; None if none is left."""
    found = details_of(interaction)
    if found is None:
        return dict(interaction) if bounds is None else None
    container, element, time, items = found
    kept = [d for d in items if within(d.get(time), bounds)]
    if not kept:
        return None
    out = {**interaction, container: {element: kept}, "count": str(len(kept))}
    if container == "surveys":
        latest = max(kept, key=lambda s: local_time(s.get("sent_time")))
        out.update(latest_nps_score=latest.get("nps_score", ""),
                   latest_survey_name=latest.get("name", ""),
                   latest_survey_interaction_time=latest.get("sent_time", ""))
    return out


def networks(call: Call, docs: list[Doc]) -> list[Doc]:
    q, bounds = call.query, window(call)
    groups: dict[str, list[Doc]] = {}
    for network in docs:
        name = str(network.get("name") or "")
        if q.get("network") and name != q["network"]:
            continue
        for interaction in dicts(network.get("interaction")):
            if q.get("type") and interaction.get("type") != q["type"]:
                continue
            kept = dated(interaction, bounds)
            if kept is not None:
                groups.setdefault(name, []).append(kept)
    return [{"name": name, "interaction": items} for name, items in groups.items()]


def interaction_view(call: Call, tx: Tx, customer: Customer) -> Doc:
    docs = [r.doc for r in tx.records(customer.id, "interactions")]
    return {"id": customer.user_id, **pick(customer.doc, IDENTIFIERS),
            "interactions": {"network": networks(call, docs)}, "item_status": ok(call)}


def interaction(call: Call, tx: Tx) -> Doc:
    """A customer not found echoes user_id as `id`, the element this answer has for it."""
    data = each_customer(call, tx, interaction_view)
    for item in listed(data["response"].get("customer")):
        if "user_id" in item:
            item["id"] = item.pop("user_id")
    return data


HANDLERS = {
    "customer_transactions": transactions,
    "customer_redemptions": redemptions,
    "customer_coupons": coupons,
    "customer_interaction": interaction,
}


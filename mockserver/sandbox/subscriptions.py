"""customer/subscriptions: Update Subscription Details (POST) and Retrieve
Subscription Details (GET).

Customer doc key subscriptions: a list of {channel, priority, scope,
is_subscribed}, one per channel + priority + scope the customer chose
(upper case; is_subscribed "1" or "0").

Decisions where the document is vague:
- Each subscription item names its customer and sets one channel + priority +
  scope; items of one batch apply in order, each with its own item_status.
- The update answer shows user_id, the identifiers the item sent ("Will have
  the same identifier passed in the request"), then channel, priority and
  scope in upper case and is_subscribed.
- GET shows EMAIL, SMS, ANDROID and IOS (the sample's channels), then any
  other channel the customer chose, each with TRANS and BULK;
  user_preference is SUBSCRIBED ("1"), UNSUBSCRIBED ("0") or NOT_SET (never
  chosen), subscribed is the scope, ALL (the only documented one).
- The channel and priority filters keep that channel (even one not shown by
  default) or that priority; scope=ALL keeps everything.
"""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox.engagement import each_item, echo, person, text
from capmock.mockserver.sandbox.results import IDENTIFIERS, one_or_many, succeeded
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx

KEY = "subscriptions"
SHOWN_CHANNELS = ("EMAIL", "SMS", "ANDROID", "IOS")
PRIORITIES = ("TRANS", "BULK")
SCOPE = "ALL"
ORDER = ("user_id", "mobile", "email", "external_id")
PREFERENCE = {"1": "SUBSCRIBED", "0": "UNSUBSCRIBED"}


def choice(item: dict[str, Any]) -> dict[str, str]:
    return {"channel": text(item.get("channel")).upper(),
            "priority": text(item.get("priority")).upper(),
            "scope": text(item.get("scope")).upper() or SCOPE,
            "is_subscribed": text(item.get("is_subscribed"))}


def same_slot(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("channel", "priority", "scope"))


def update_one(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    chosen = choice(item)
    stored = [s for s in customer.doc.get(KEY) or [] if not same_slot(s, chosen)]
    customer.doc[KEY] = [*stored, chosen]
    tx.save_customer(customer)
    return {"user_id": customer.user_id, **echo(item, IDENTIFIERS), **chosen,
            "item_status": succeeded(call.op.id)}


def update(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, update_one, ORDER)


def preference(stored: list[dict[str, Any]], channel: str, priority: str) -> str:
    for entry in reversed(stored):
        if entry.get("channel") == channel and entry.get("priority") == priority:
            return PREFERENCE.get(entry.get("is_subscribed"), "NOT_SET")
    return "NOT_SET"


def subscriptions_of(call: Call, tx: Tx, customer: Customer,
                     item: dict[str, Any]) -> dict[str, Any]:
    stored = customer.doc.get(KEY) or []
    channels = list(SHOWN_CHANNELS)
    channels += [c for c in dict.fromkeys(s.get("channel") for s in stored) if c not in channels]
    wanted_channel = text(call.query.get("channel")).upper()
    wanted_priority = text(call.query.get("priority")).upper()
    if wanted_channel:
        channels = [wanted_channel]
    priorities = [wanted_priority] if wanted_priority else list(PRIORITIES)
    shown = [{"name": channel, "priority": one_or_many([
        {"name": p, "subscribed": SCOPE, "user_preference": preference(stored, channel, p)}
        for p in priorities])} for channel in channels]
    return {**person(customer, ORDER), "channel": one_or_many(shown),
            "item_status": succeeded(call.op.id)}


def get(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, subscriptions_of, ORDER)


HANDLERS = {"customer_subscriptions_update": update, "customer_subscriptions_get": get}

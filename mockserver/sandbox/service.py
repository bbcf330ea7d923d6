"""The sandbox's answering port (mockserver/port.py): an operation's handler
acts on the store.

A handler takes a `Call` (what the request asked, after validation) and an
open transaction, and returns the response as data; the pipeline renders it
in the negotiated format through the same codec and envelope as replay.
Every request is one transaction: all of it is written, or none.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from capmock.mockserver.errors import Rejection
from capmock.mockserver.port import Answer, Call
from capmock.mockserver.sandbox.store import Conflict, Store, StoreFailure, Tx, open_store
from capmock.mockserver.settings import Settings
from capmock.openapi.contract import Operation
from capmock.openapi.outcomes import rules

Handler = Callable[["Call", Tx], dict[str, Any]]
# modules that define HANDLERS = {operation id: handler}
MODULES = ("customers", "search", "history", "notes", "tickets", "referrals", "preferences",
           "subscriptions")
RACE_RETRIES = 5
__all__ = ["Call", "Handler", "Sandbox", "handlers", "store_refusal"]
logger = logging.getLogger("capmock")


def handlers() -> dict[str, Handler]:
    """Every operation's handler: the modules' HANDLERS, then the listings
    declared in data (listings.yaml)."""
    from capmock.mockserver.sandbox import listings

    table: dict[str, Handler] = {}
    for name in MODULES:
        table.update(importlib.import_module(f"capmock.mockserver.sandbox.{name}").HANDLERS)
    for op, handler in listings.handlers().items():
        table.setdefault(op, handler)
    return table


class Sandbox:
    """One worker's view of the sandbox: the store and the handlers (the
    answering port of mode sandbox)."""

    stateful = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store = open_store(settings.store or ":memory:")
        self.handlers = handlers()
        from capmock.mockserver.sandbox.seed import ensure_seeded

        ensure_seeded(self.store)

    def handles(self, op: Operation) -> bool:
        return op.id in self.handlers

    def answer(self, call: Call) -> Answer:
        return Answer.of(self.run(call))

    def run(self, call: Call) -> dict[str, Any]:
        """Run the handler in one transaction (a write one for POST); a
        unique-key race (another worker registered the same identifier
        meanwhile) reruns it. The store reruns it when the database failed
        (Store.run); when it gives up, the request gets store_refusal()."""
        handler = self.handlers[call.op.id]
        for attempt in range(RACE_RETRIES):
            try:
                return self.store.run(lambda tx: handler(call, tx), write=call.op.method == "POST")
            except Conflict:
                if attempt == RACE_RETRIES - 1:
                    raise
            except StoreFailure as failure:
                logger.warning("sandbox store: %s (%s, %d tries)", failure.reason, failure.cause,
                               failure.tries)
                raise store_refusal(failure) from None
        raise AssertionError("unreachable")


def store_refusal(failure: StoreFailure) -> Rejection:
    """The request-level answer when the database failed the request
    (rules.yaml store_failure: the code, and the detail for each cause)."""
    rule = rules()["store_failure"]
    detail = rule["detail"][failure.cause].format(reason=failure.reason, tries=failure.tries)
    return Rejection(rule["code"], detail)

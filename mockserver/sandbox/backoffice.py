"""The back office's part of customer/update_identity: pending identity change
requests are listed, approved (the identifier changes) or rejected."""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox.store import Store

KIND = "identity_changes"
STATES = {"approve": "APPROVED", "reject": "REJECTED"}


class NotPending(LookupError):
    """No pending request with that id."""


def changes(store: Store) -> list[dict[str, Any]]:
    with store.transaction() as tx:
        return [{"id": r.id, "user_id": str(r.customer_id), **r.doc}
                for r in tx.records_of_kind(KIND)]


def decide(store: Store, change_id: int, verdict: str, now: str) -> dict[str, Any]:
    """Approve or reject a pending request; approving a value another customer
    took meanwhile raises Conflict and changes nothing."""
    with store.transaction(write=True) as tx:
        record = tx.record(KIND, change_id)
        if record is None or record.doc.get("state") != "PENDING":
            raise NotPending(f"no pending identity change {change_id}")
        if verdict == "approve":
            customer = tx.customer("user_id", record.customer_id)
            if customer is None:  # records belong to customers; the store never deletes one
                raise NotPending(f"identity change {change_id}: its customer is gone")
            customer.doc[record.doc["identifier"]] = record.doc["new_value"]
            customer.doc["updated_on"] = now
            tx.save_customer(customer)
        record.doc.update(state=STATES[verdict], decided_on=now)
        tx.save_record(record)
        return {"id": record.id, "user_id": str(record.customer_id), **record.doc}


"""A fresh sandbox starts with the document's sample customers and their
history (seed.yaml, a sandbox file written from the samples)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from capmock.mockserver.sandbox import transfer
from capmock.mockserver.sandbox.store import Store


@cache
def document_seed() -> dict[str, Any]:
    return transfer.parse(resources.files(__package__).joinpath("seed.yaml").read_bytes())


def ensure_seeded(store: Store) -> bool:
    """Seed a store that was never seeded (one worker does it; the others see it done)."""
    with store.transaction(exclusive=True) as tx:
        if tx.meta(transfer.SEEDED) is not None:
            return False
        transfer.load(tx, document_seed())
        tx.set_meta(transfer.SEEDED, "document")
    return True


def reset(store: Store) -> int:
    """Back to a fresh sandbox: the document's customers only."""
    return transfer.replace(store, document_seed())

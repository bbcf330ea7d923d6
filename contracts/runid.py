"""Data that is unique to one run of the suite, so that a stateful server
(which keeps everything earlier runs wrote) never sees a write of this run
as a duplicate of an earlier one: fresh mobiles, and a run token that the
directed workflows put into every subject and note they write."""

from __future__ import annotations

import secrets

MOBILE_DIGITS = 12  # the contract's mobile: 8 to 15 digits


def unique_mobile(prefix: str = "9") -> str:
    """A mobile number no earlier run used (random, 10^11 values per prefix)."""
    rest = MOBILE_DIGITS - len(prefix)
    return prefix + str(secrets.randbelow(10**rest)).zfill(rest)


def run_token() -> str:
    """A short token naming this run in the data it writes."""
    return secrets.token_hex(4)

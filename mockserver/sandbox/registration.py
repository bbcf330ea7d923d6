"""Which registrations the Registration Configuration accepts: mandatory
identifiers and the registered_on window (1034). The codes come from
openapi/rules.yaml."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from capmock.mockserver.sandbox.store import IDENTIFIER_COLUMNS
from capmock.openapi.outcomes import code_for


def missing_identifier(op_id: str, rule: str, item: dict[str, Any]) -> int:
    """The code for an item that lacks an identifier the configuration requires, else 0."""
    sent = {k for k in IDENTIFIER_COLUMNS if isinstance(item.get(k), str) and item[k]}
    if not rule:
        return 0
    if "|" in rule:
        group = set(rule.split("|"))
        if sent & group:
            return 0
        return (code_for(op_id, "one_of_identifiers_required", "|".join(sorted(group)))
                or code_for(op_id, "one_of_identifiers_required", "other") or 0)
    missing = next((name for name in rule.split(",") if name not in sent), None)
    if missing is None:
        return 0
    return code_for(op_id, "identifier_required", missing) or 0


def outside_window(registered_on: Any, now: datetime, past_days: int, future_days: int) -> bool:
    """registered_on before now - past_days or after now + future_days (1034);
    a date that does not exist (2020-13-45) is outside every window."""
    if not isinstance(registered_on, str) or not registered_on:
        return False
    try:
        when = datetime.strptime(registered_on, "%Y-%m-%d %H:%M:%S").replace(tzinfo=now.tzinfo)
    except ValueError:
        return True
    return not now - timedelta(days=past_days) <= when <= now + timedelta(days=future_days)


def check_rule(rule: str) -> str:
    """Validate a --required-identifiers value; returns it, or raises ValueError."""
    names = [n for n in rule.replace("|", ",").split(",") if n]
    if rule and (("|" in rule and "," in rule) or any(n not in IDENTIFIER_COLUMNS
                                                      for n in names)):
        raise ValueError(f"{rule!r}: use names from mobile, email, external_id joined "
                         "by | (one of) or , (all of)")
    return rule

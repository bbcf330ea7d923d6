"""Which registrations the Registration Configuration accepts: mandatory
identifiers and the registered_on window (1034)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

# --required-identifiers "a|b" (one of them) or "a,b" (all): the documented code
# for each requirement (Register Customers, response codes)
ANY_OF = {frozenset({"mobile", "email"}): 1045, frozenset({"mobile", "external_id"}): 1019}
EACH = {"mobile": 1006, "email": 1039, "external_id": 1043}
FALLBACK = 1045  # another "one of" combination: the nearest documented wording


def missing_identifier(rule: str, item: dict[str, Any]) -> int:
    """The code for an item that lacks an identifier the configuration requires, else 0."""
    sent = {k for k in EACH if isinstance(item.get(k), str) and item[k]}
    if not rule:
        return 0
    if "|" in rule:
        group = frozenset(rule.split("|"))
        return 0 if sent & group else ANY_OF.get(group, FALLBACK)
    for name in rule.split(","):
        if name not in sent:
            return EACH[name]
    return 0


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
    if rule and (("|" in rule and "," in rule) or any(n not in EACH for n in names)):
        raise ValueError(f"{rule!r}: use names from mobile, email, external_id joined "
                         "by | (one of) or , (all of)")
    return rule

"""`capmock proxy --mask`: identifiers and names replaced by stand-ins, consistently.

A value's mask is a keyed hash (HMAC-SHA256) of its kind and the value, so the
same input gives the same mask everywhere in a recording (every answer, the
sandbox file and the examples), and two recordings made with the same
`--mask-seed` agree; without a seed the key is random, per run. Each mask keeps
the value usable where the contract checks it:

- mobile: digits only, as many as the original had (8 to 15: the contract's
  mobile pattern), its first two digits (the country code) kept;
- email: `m<12 hex digits>@example.com` (a reserved domain: no real mailbox);
- external_id: `X<12 hex digits>` (upper case, no spaces);
- user_id: a whole number of the original's length, at least 9 digits (so that
  short ids do not collide) and at most 18 (the sandbox file's pattern), no leading 0;
- name (firstname, lastname): a made-up capitalised word of letters.

Which keys hold which kind is data (record.yaml `mask`). A text under any other
key, or a query value, that contains a value already masked (the search
query `q=mobile:IN:...`, identity changes' old_value ...) has it replaced as a
whole word by its mask, so the originals do not remain anywhere in what is written.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from typing import Any

CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
MIN_MOBILE, MAX_MOBILE = 8, 15
MIN_USER_ID, MAX_USER_ID = 9, 18
SHORTEST_REPLACED = 3  # shorter originals (a name "Al") are masked by key only


def new_key(seed: str | None) -> str:
    """The masking key: the seed as given, or a random one for this run."""
    return seed if seed else secrets.token_hex(16)


class Masker:
    """Masks values by kind; remembers what it masked, to replace it inside texts."""

    def __init__(self, key: str, keys: dict[str, str]) -> None:
        self.key = key.encode("utf-8")
        self.keys = keys  # element or parameter name -> kind
        self.seen: dict[str, str] = {}
        self.pattern: re.Pattern[str] | None = None
        self.kinds: dict[str, Callable[[str], str]] = {
            "mobile": self.mobile, "email": self.email, "external_id": self.external_id,
            "user_id": self.user_id, "name": self.name}

    def digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self.key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()

    def digits(self, kind: str, value: str, count: int) -> str:
        number = int.from_bytes(self.digest(kind, value), "big")
        return str(number).zfill(count)[-count:]

    def mobile(self, value: str) -> str:
        length = min(max(sum(c.isdigit() for c in value), MIN_MOBILE), MAX_MOBILE)
        head = "".join(c for c in value if c.isdigit())[:2].ljust(2, "9")
        return head + self.digits("mobile", value, length - 2)

    def email(self, value: str) -> str:
        return f"m{self.digest('email', value.lower()).hex()[:12]}@example.com"

    def external_id(self, value: str) -> str:
        return "X" + self.digest("external_id", value).hex()[:12].upper()

    def user_id(self, value: str) -> str:
        length = min(max(len(value), MIN_USER_ID), MAX_USER_ID)
        first = str(1 + self.digest("user_id", value)[0] % 9)
        return first + self.digits("user_id", value, length - 1)

    def name(self, value: str) -> str:
        raw = self.digest("name", value.lower())
        letters = [(CONSONANTS if i % 2 == 0 else VOWELS)[b % (14 if i % 2 == 0 else 5)]
                   for i, b in enumerate(raw[:6])]
        return "".join(letters).capitalize()

    def value(self, kind: str, value: Any) -> Any:
        """The mask of one value of `kind` (empty and non-text values stay as they are)."""
        if not isinstance(value, str) or not value.strip():
            return value
        masked = self.kinds[kind](value)
        if self.seen.get(value) != masked:
            self.seen[value] = masked
            self.pattern = None
        return masked

    def learn(self, data: Any) -> None:
        """Mask (and so remember) every keyed value in `data`, before texts are replaced."""
        self.tree(data, replace=False)

    def tree(self, data: Any, replace: bool = True) -> Any:
        """`data` with every keyed value masked and, with `replace`, every other text
        rid of the values masked so far."""
        if isinstance(data, dict):
            return {k: self.keyed(k, v, replace) for k, v in data.items()}
        if isinstance(data, list):
            return [self.tree(v, replace) for v in data]
        return self.text(data) if replace else data

    def keyed(self, key: str, value: Any, replace: bool) -> Any:
        if key in self.keys and isinstance(value, str):
            return self.value(self.keys[key], value)
        return self.tree(value, replace)

    def query(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Query parameters with identifiers masked by name, other values replaced."""
        return [(n, self.value(self.keys[n], v) if n in self.keys else self.text(v))
                for n, v in pairs]

    def text(self, value: Any) -> Any:
        """A text with every masked value in it (as a whole word) replaced by its mask."""
        if not isinstance(value, str) or not self.seen:
            return value
        if value in self.seen:
            return self.seen[value]
        if self.pattern is None:
            originals = sorted((o for o in self.seen if len(o) >= SHORTEST_REPLACED),
                               key=len, reverse=True)
            if not originals:
                return value
            self.pattern = re.compile(
                r"(?<![\w.@+-])(?:" + "|".join(map(re.escape, originals)) + r")(?![\w@-])")
        return self.pattern.sub(lambda m: self.seen[m.group(0)], value)

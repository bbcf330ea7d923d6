"""The platform's HTTP Basic scheme (FACTS, Authentication), shared by the mock
server that checks it and the suite that sends it: the username is a till
code and the password travels as the lowercase hex MD5 of the real password."""

from __future__ import annotations

import base64
import hashlib


def basic_header(credentials: str) -> str:
    """The Authorization header for "TILL:PASSWORD"."""
    till, _, password = credentials.partition(":")
    digest = hashlib.md5(password.encode("utf-8")).hexdigest()  # the platform's scheme, not ours
    token = base64.b64encode(f"{till}:{digest}".encode()).decode("ascii")
    return f"Basic {token}"

"""HTTP Basic as the platform checks it (FACTS, Authentication): the username
is a till code and the password travels as the lowercase hex MD5 of the real
password: `Authorization: Basic base64(till ":" md5hex(password))`."""

from __future__ import annotations

import base64
import binascii
import hmac

from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.openapi.platform_auth import basic_header

UNAUTHORIZED = 401


def expected_header(credentials: str) -> str:
    """The Authorization header a client must send for "TILL:PASSWORD"."""
    return basic_header(credentials)


def sent_credentials(header: str) -> tuple[str, str] | None:
    """(till, md5hex) from an Authorization header, None if it is not valid Basic:
    a token that is not base64 (non-ASCII characters included), credentials
    that are not UTF-8 or have no colon."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.isascii():
        return None
    try:
        till, sep, digest = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (till, digest) if sep else None


def authenticate(request: MockRequest, credentials: str | None) -> None:
    """Pass, or reject with request-level 401 in the envelope."""
    if credentials is None:
        return
    sent = sent_credentials(request.header("authorization"))
    if sent is None:
        raise Rejection(UNAUTHORIZED, "send Authorization: Basic base64(till:md5(password))")
    expected = sent_credentials(expected_header(credentials))
    if not (hmac.compare_digest(sent[0].encode(), expected[0].encode())
            and hmac.compare_digest(sent[1].lower().encode(), expected[1].encode())):
        raise Rejection(UNAUTHORIZED, f"till {sent[0]!r}: wrong till code or password")

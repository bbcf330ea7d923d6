"""HTTP Basic as the platform checks it (FACTS, Authentication): the username
is a till code and the password travels as the lowercase hex MD5 of the real
password: `Authorization: Basic base64(till ":" md5hex(password))`.

One rule for the API and the admin endpoints (`matches`), with one addition
for the admin endpoints: they also accept the password as typed, because a
browser's credentials dialog (the reference page, /__capmock/docs) cannot
hash it. That widens nothing: whoever knows the password knows its MD5, and
the API itself stays exactly as strict as the platform.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from capmock.mockserver.access import Refusal, challenge, message
from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.mockserver.settings import Settings
from capmock.openapi.platform_auth import basic_header

UNAUTHORIZED = 401


def expected_header(credentials: str) -> str:
    """The Authorization header a client must send for "TILL:PASSWORD"."""
    return basic_header(credentials)


def sent_credentials(header: str) -> tuple[str, str] | None:
    """(till, password) from an Authorization header, None if it is not valid Basic:
    a token that is not base64 (non-ASCII characters included), credentials
    that are not UTF-8 or have no colon."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.isascii():
        return None
    try:
        till, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (till, password) if sep else None


def same(sent: str, expected: str) -> bool:
    """Constant-time comparison of text (compare_digest takes only ASCII str)."""
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


def matches(sent: tuple[str, str], credentials: str, typed_too: bool = False) -> bool:
    """Whether (till, password) as sent is "TILL:PASSWORD": the password as its
    md5 hex (any case), or, with `typed_too`, as typed."""
    till, _, password = credentials.partition(":")
    digest = hashlib.md5(password.encode("utf-8")).hexdigest()  # the platform's scheme
    good_password = same(sent[1].lower(), digest)
    if typed_too:
        good_password = same(sent[1], password) or good_password
    return same(sent[0], till) and good_password


def challenge_for(request: MockRequest) -> tuple[tuple[str, str], ...]:
    """WWW-Authenticate of the API's 401 (RFC 9110: a 401 names its scheme; FACTS:
    clients treat 401 as a failed login). Not for a browser script's fetch
    (Sec-Fetch-Mode other than navigate, e.g. the reference page's try-it panel):
    a challenge would make the browser hold the answer behind a login dialog."""
    mode = request.header("sec-fetch-mode")
    if mode and mode != "navigate":
        return ()
    return (("WWW-Authenticate", challenge("auth")),)


def authenticate(request: MockRequest, credentials: str | None) -> None:
    """Pass, or reject with request-level 401 in the envelope."""
    if credentials is None:
        return
    sent = sent_credentials(request.header("authorization"))
    asks = challenge_for(request)
    if sent is None:
        raise Rejection(UNAUTHORIZED, message("auth", "missing"), asks)
    if not matches(sent, credentials):
        raise Rejection(UNAUTHORIZED, message("auth", "wrong", till=sent[0]), asks)


def admin_credentials(settings: Settings) -> str | None:
    """--admin-auth, else --auth: one switch protects both unless told otherwise."""
    return settings.admin_auth or settings.auth


def admin_refusal(header: str, settings: Settings) -> Refusal | None:
    """A 401 asking for credentials, unless the Authorization header has the
    admin credentials (or none are set)."""
    credentials = admin_credentials(settings)
    if credentials is None:
        return None
    sent = sent_credentials(header)
    if sent is not None and matches(sent, credentials, typed_too=True):
        return None
    return Refusal(UNAUTHORIZED, message("admin", "unauthorized"), challenge())

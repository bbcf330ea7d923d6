"""Format negotiation as the platform does it (FACTS, Formats).

The response format follows `format=` if present, else the Accept header,
else the server's default (JSON: real clients send neither and expect JSON).
The request body's format follows Content-Type; without one, the first
non-blank byte decides ('<' is XML), as lenient clients rely on.
"""

from __future__ import annotations

from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest

BAD_REQUEST = 400
MEDIA = {"json": "application/json; charset=utf-8", "xml": "application/xml; charset=utf-8"}
XML_TYPES = ("application/xml", "text/xml")
JSON_TYPES = ("application/json", "text/json")
CHARSETS = ("utf-8", "utf8", "us-ascii")


def format_param(request: MockRequest) -> str | None:
    for name, value in request.query:
        if name == "format":
            if value.lower() not in MEDIA:
                raise Rejection(BAD_REQUEST, f"format={value!r}: use json or xml")
            return value.lower()
    return None


def accept_format(accept: str) -> str | None:
    """json or xml from an Accept header, by the first media type that names one."""
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in XML_TYPES or media.endswith("+xml"):
            return "xml"
        if media in JSON_TYPES or media.endswith("+json"):
            return "json"
    return None


def response_format(request: MockRequest, default: str) -> str:
    """The format of the answer: format= overrides Accept, then the default."""
    return format_param(request) or accept_format(request.header("accept")) or default


def media_parts(content_type: str) -> tuple[str, str | None]:
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.strip().lower(), charset


def body_format(request: MockRequest) -> str:
    """The format of the request body, by Content-Type (or by sniffing if absent)."""
    media, charset = media_parts(request.header("content-type"))
    if charset is not None and charset not in CHARSETS:
        raise Rejection(BAD_REQUEST, f"charset {charset!r} is not supported; send UTF-8")
    if media in XML_TYPES or media.endswith("+xml"):
        return "xml"
    if media in JSON_TYPES or media.endswith("+json"):
        return "json"
    if media and media not in ("text/plain", "application/octet-stream"):
        raise Rejection(BAD_REQUEST, f"Content-Type {media!r}: send application/json or "
                                     "application/xml")
    return "xml" if request.body.lstrip()[:1] == b"<" else "json"

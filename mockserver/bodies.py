"""Request bodies read straight from the WSGI environ, within a limit.

A body over the limit is refused, never cut: with Content-Length it is
refused before any of it is kept; a chunked body (Transfer-Encoding:
chunked, no Content-Length) is read until the limit is passed by one byte
and then refused. Up to DRAIN bytes of a refused body are read and dropped
first, so that the client, still sending, reads the 400.

Werkzeug's stream for a chunked body (a LimitedStream of MAX_CONTENT_LENGTH,
granian setting `wsgi.input_terminated`) stops reading at
the limit and returns what it has without looking past it, so
`request.get_data()` handed the pipeline the first 1 MiB of a larger chunked
body as if it were all of it.

The mock's requests take `Settings.max_body_bytes`; the sandbox's import and
load take `Settings.import_limit` (an export can be far larger than a request).
"""

from __future__ import annotations

from typing import Any

PIECE = 65_536  # bytes asked of the server's input stream at a time
DRAIN = 16 * 1_048_576  # at most this much of a refused body is read and dropped


class TooLarge(Exception):
    """The body is larger than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body (b"" when there is none), or TooLarge."""
    length = environ.get("CONTENT_LENGTH")
    if length and length.isascii() and length.isdigit():
        if int(length) > limit:
            if int(length) <= limit + DRAIN:
                drain(environ["wsgi.input"], int(length))
            raise TooLarge(limit)
        return environ["wsgi.input"].read(int(length)) if int(length) else b""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return read_chunked(environ["wsgi.input"], limit)
    return b""


def read_chunked(stream: Any, limit: int) -> bytes:
    """Everything the stream holds, or TooLarge as soon as it holds more than limit."""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = stream.read(min(PIECE, limit + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
    drain(stream, DRAIN)
    raise TooLarge(limit)


def drain(stream: Any, most: int) -> None:
    """Read and drop what is left of a refused body, at most `most` bytes, so a
    client still sending it gets the 400 instead of a reset connection (a
    socket closed with unread data resets). A body more than DRAIN bytes over
    the limit is refused without it: the connection may reset."""
    left = most
    while left > 0 and (part := stream.read(min(PIECE, left))):
        left -= len(part)

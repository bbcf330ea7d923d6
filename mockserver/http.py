"""Plain request and response values that the pipeline works on.

Nothing here knows about Flask or WSGI (the STYLE of Flask's sansio/): the
adapter in wsgi.py converts a Werkzeug request into a MockRequest and a
MockResponse back, so every stage can be tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class MockRequest:
    method: str
    path: str
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @cached_property
    def query(self) -> list[tuple[str, str]]:
        """Query parameters in order; '+' decodes to a space (the document's dates)."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    def cache_key(self) -> tuple:
        """Everything that decides the response: same key, same bytes."""
        h = self.headers
        return (self.method, self.path, self.query_string, h.get("accept", ""),
                h.get("content-type", ""), h.get("prefer", ""), h.get("authorization", ""),
                h.get("x-cap-api-oauth-token", ""), h.get("sec-fetch-mode", ""), self.body)


@dataclass
class MockResponse:
    status: int
    body: bytes
    content_type: str
    operation: str | None = None
    request_code: int | None = None  # response.status.code, for the journal
    reason: str | None = None  # a refusal's message (pipeline.rejected), for the journal
    headers: tuple[tuple[str, str], ...] = ()  # e.g. Allow of a 405 (empty on the fast path)
    # the item codes of the body, worked out once for an answer the replay
    # cache shares (the journal keeps them when it drops a long body); None:
    # not worked out
    item_codes: tuple[int, ...] | None = None

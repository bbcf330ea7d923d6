"""How the pipeline stops early: a Rejection is a request-level error."""

from __future__ import annotations

from capmock.openapi.clean import escape_text


class Rejection(Exception):
    """Stop the pipeline and answer with a request-level code (FACTS table).

    `detail` names what was wrong (a parameter, a field, a header) and is
    appended to the documented message, so a client sees both. It often
    quotes the request, so every character XML 1.0 cannot carry is escaped
    here (clean.escape_text), once for every message: a quoted value can never
    make the answer unrenderable, in JSON or XML.
    """

    def __init__(self, request_code: int, detail: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        detail = None if detail is None else escape_text(detail)
        super().__init__(detail or str(request_code))
        self.request_code = request_code
        self.detail = detail
        self.headers = headers  # HTTP headers the error carries: 405 Allow, 401 WWW-Authenticate

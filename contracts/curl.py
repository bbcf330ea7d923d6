"""A failing request as a curl line that can be pasted as it is.

Built from the request the run really sent (method, URL, headers, body), not
from schemathesis's masked rendering:
- no auth given to the run: no Authorization header at all (schemathesis may
  generate one from the document's security scheme; the server under test was
  not asked to check it);
- auth given: `-H "Authorization: $CAPMOCK_AUTHORIZATION"`, so the line works
  once that variable holds the header (`capmock verify --show-secrets` prints
  the real value instead, for a terminal nobody else reads);
- transport noise (User-Agent, Accept-Encoding, Connection, Content-Length,
  schemathesis's test-case id) is left out: curl sends its own.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

SECRET_VARIABLE = "CAPMOCK_AUTHORIZATION"
NOISE = frozenset({"user-agent", "accept-encoding", "connection", "content-length",
                   "x-schemathesis-testcaseid", "host"})


def curl_line(method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes | None,
              auth: str | None, show_secrets: bool) -> str:
    """The curl command; `auth` is the Authorization value the run sent, if any."""
    parts = ["curl", "-X", method.upper()]
    for name, value in headers:
        lower = name.lower()
        if lower in NOISE or lower == "authorization":
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if auth:
        parts += ["-H", shlex.quote(f"Authorization: {auth}") if show_secrets
                  else f'"Authorization: ${SECRET_VARIABLE}"']
    if body:
        text = body.decode("utf-8", "backslashreplace")
        parts += ["--data-binary", shlex.quote(text)]
    parts.append(shlex.quote(url))
    return " ".join(parts)

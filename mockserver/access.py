"""Who may reach the mock: the Host check of every request, and the rules of
the admin endpoints under /__capmock/ (sans-IO; admin.guard applies them).

Decisions:
- Host (DNS-rebinding defence): a page of a site whose name an attacker
  re-points at 127.0.0.1 is same-origin with the mock, so it could read the
  admin endpoints; its requests carry that name in Host. So a request's Host
  must name this server: the bound address; on a loopback address also
  localhost, 127.0.0.1 and [::1]; on a wildcard address (0.0.0.0, ::) those,
  any IP literal (an IP cannot be re-pointed) and the machine's host name.
  `--allowed-hosts a,b` adds names, `*` accepts any. The port is not compared
  (port mappings and proxies change it), nor is a missing Host refused (every
  browser sends one; HTTP/1.0 tools may not). /__capmock/health is exempt, so
  a container or Kubernetes probe needs no configuration.
- Admin, in this order, so that a cross-site request is refused before a 401
  could make the victim's browser ask for credentials:
  1. an Origin other than the server's own (scheme and host:port of Host) is
     refused with 403 ("null" included);
  2. a POST needs a JSON or YAML Content-Type or the X-Capmock-Admin header:
     an HTML form (or a no-cors fetch) can only send form or text types and no
     custom header. DELETE (the journal) needs no such header: a browser
     preflights it cross-site, and the admin endpoints grant no CORS;
  3. credentials (auth.admin_refusal): those of --admin-auth, else of --auth;
     neither set, the admin endpoints are open (to loopback callers by
     default, through the Host check).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from capmock import fixtures
from capmock.mockserver.settings import Settings

PREFIX = "/__capmock"
OPEN = "/__capmock/health"  # no check at all: a health probe needs no credentials
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
DELIBERATE_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")
DELIBERATE_SUFFIXES = ("+json", "+yaml")
DEFAULT_PORTS = {"http": "80", "https": "443"}
SHOWN = 100  # characters of a client's Host or Origin quoted in a message


@cache
def text() -> dict[str, Any]:
    """access.yaml: the messages and the journal's secret headers."""
    raw = resources.files("capmock.mockserver").joinpath("access.yaml").read_text("utf-8")
    return fixtures.parse_yaml(raw)


def message(section: str, name: str, **values: str) -> str:
    return " ".join(text()[section][name].split()).format(**values)


@dataclass(frozen=True)
class Refusal:
    """An admin request refused: the status, what to tell the client, and the
    WWW-Authenticate value when it is asked for credentials."""

    status: int
    message: str
    challenge: str | None = None


def host_name(host: str) -> str:
    """The name in a Host header: no port, no brackets, lower case, no final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(name: str) -> bool:
    return name in LOOPBACK_NAMES or (is_ip(name) and ipaddress.ip_address(name).is_loopback)


class Hosts:
    """The Host names a server bound on `bound` answers (see the module's docstring)."""

    def __init__(self, bound: str, allowed: str | None) -> None:
        bound = host_name(bound)
        extra = {host_name(h) for h in (allowed or "").split(",") if h.strip()}
        self.any = "*" in extra
        self.wildcard = bound in WILDCARDS
        names = {bound} | extra
        if self.wildcard or is_loopback(bound):
            names |= LOOPBACK_NAMES
        if self.wildcard:
            names.add(socket.gethostname().lower())
        self.names = frozenset(names - WILDCARDS)
        self.allows = lru_cache(maxsize=64)(self._allows)  # Host values are few; bounded

    def _allows(self, header: str | None) -> bool:
        if header is None or self.any:
            return True
        name = host_name(header)
        return name in self.names or (self.wildcard and is_ip(name))

    def described(self) -> str:
        names = sorted(self.names) + (["any IP address"] if self.wildcard else [])
        return ", ".join(names)

    @classmethod
    def of(cls, settings: Settings) -> Hosts:
        return cls(settings.bound_host, settings.allowed_hosts)

    def refusal(self, host: str | None) -> str | None:
        """The message refusing this Host, None when it names this server."""
        if self.allows(host):
            return None
        return message("host", "refused", host=(host or "")[:SHOWN], allowed=self.described())




def normal_netloc(netloc: str, scheme: str) -> str:
    """host:port in lower case, without the scheme's default port."""
    netloc = netloc.strip().lower()
    default = DEFAULT_PORTS.get(scheme)
    if default and netloc.endswith(f":{default}") and not netloc.endswith("]"):
        netloc = netloc[: -len(default) - 1]
    return netloc


def same_origin(origin: str, host: str | None) -> bool:
    """Whether Origin names this server as the client reached it (its Host).
    The scheme is not compared: behind a TLS proxy the mock itself sees http."""
    scheme, sep, netloc = origin.strip().lower().partition("://")
    if not sep or host is None or "/" in netloc:
        return False
    return normal_netloc(netloc, scheme) == normal_netloc(host, scheme)


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def deliberate(headers: Any) -> bool:
    """A POST no HTML form of another site could have sent (see the module)."""
    if headers.get("x-capmock-admin"):
        return True
    media = media_type(headers.get("content-type", ""))
    return media in DELIBERATE_TYPES or media.endswith(DELIBERATE_SUFFIXES)


def cross_site_refusal(method: str, headers: Any) -> Refusal | None:
    """Why an admin request may come from another site (rules 1 and 2), else None.
    `headers` looks names up case-insensitively (Werkzeug's request headers)."""
    host = headers.get("host")
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, host):
        return Refusal(403, message("admin", "foreign_origin", origin=origin[:SHOWN],
                                    host=(host or "")[:SHOWN]))
    if method == "POST" and not deliberate(headers):
        return Refusal(403, message("admin", "form_post"))
    return None


def challenge(part: str = "admin") -> str:
    """The WWW-Authenticate value of a refused admin request (a browser then asks),
    or with part "auth" of the API's 401."""
    return f'Basic realm="{text()[part]["realm"]}", charset="UTF-8"'

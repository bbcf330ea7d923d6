"""Server settings: one frozen value built by `capmock serve` and handed to
every worker process through the environment (workers are separate
processes started by the WSGI server)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

from capmock.openapi import wire as wires

ENV = "CAPMOCK_SETTINGS"
FORMATS = ("json", "xml")
# the platform's rules, in the contract layer (openapi/wire.yaml)
STATUS_POLICIES = wires.http_status_policies()
WIRES = wires.wires()


@dataclass(frozen=True)
class Settings:
    mode: str = "replay"
    auth: str | None = None  # "TILL:PASSWORD"; None = no authentication
    http_status: str = wires.default_http_status()  # platform: item-level outcomes HTTP 200
    wire: str = wires.default_wire()  # platform: the JSON as live clusters write it
    batch_limit: int = 100
    default_format: str = "json"  # neither format= nor Accept (FACTS: clients expect JSON)
    cors: bool = True
    delay_ms: int = 0
    max_body_bytes: int = 1_048_576
    max_depth: int = 64
    journal_size: int = 1000
    journal_path: str | None = None  # SQLite file shared by workers; None = in memory
    access_log: bool = False  # one line per request on stdout (accesslog.py); serve: on
    # sandbox mode (issue 5): the store and the platform's Registration Configuration
    store: str | None = None  # SQLite path, ":memory:" or postgresql://...
    required_identifiers: str = "mobile|email"  # "a|b": one of them; "a,b": all of them
    allow_mobile_update: bool = False  # CONF_ALLOW_MOBILE_UPDATE
    allow_email_update: bool = False  # CONF_ALLOW_EMAIL_UPDATE
    allow_external_id_update: bool = False  # CONF_LOYALTY_ALLOW_EXTERNAL_ID_UPDATE
    registration_past_days: int = 36500  # registered_on older than this: 1034
    registration_future_days: int = 0  # registered_on later than now + this: 1034
    # issue 12: who may reach the mock (access.py) and what the journal keeps (journal.py)
    admin_auth: str | None = None  # "TILL:PASSWORD" for /__capmock/; None: auth's
    bound_host: str = "127.0.0.1"  # the address serve listens on, for the Host check
    allowed_hosts: str | None = None  # "a,b" or "*": Host names accepted besides it
    journal_bytes: int = 8_388_608  # what each worker (and the shared file) keeps, at most
    journal_body_bytes: int = 4096  # of each request body; longer ones are cut, and say so
    # the sandbox's import and load (an export is larger than any request): bytes
    import_limit: int = 64 * 1_048_576

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(ENV)
        if not raw:
            return cls()
        data = json.loads(raw)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

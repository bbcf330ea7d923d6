"""Server settings: one frozen value built by `capmock serve` and handed to
every worker process through the environment (workers are separate
processes started by the WSGI server)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

ENV = "CAPMOCK_SETTINGS"
FORMATS = ("json", "xml")
STATUS_POLICIES = ("mirror", "always-200")


@dataclass(frozen=True)
class Settings:
    mode: str = "replay"
    auth: str | None = None  # "TILL:PASSWORD"; None = no authentication
    http_status: str = "mirror"
    batch_limit: int = 100
    default_format: str = "json"  # neither format= nor Accept (FACTS: clients expect JSON)
    cors: bool = True
    delay_ms: int = 0
    max_body_bytes: int = 1_048_576
    max_depth: int = 64
    journal_size: int = 1000
    journal_path: str | None = None  # SQLite file shared by workers; None = in memory

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

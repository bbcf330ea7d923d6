"""The sandbox file's format (sandbox-file.schema.yaml): its header, its schema
and how it is written. Beside the store, not on it: `transfer` reads and writes
stores with it, and `capmock proxy --record` writes recordings with it (the
proxy may import this module of the sandbox and no other)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from capmock import fixtures

FORMAT = {"format": "capmock-sandbox", "version": 1}
RECORD_ID = "_record_id"  # a record's id in the store, kept through export and import


@cache
def validator() -> jsonschema.Draft202012Validator:
    text = resources.files(__package__).joinpath("sandbox-file.schema.yaml").read_text("utf-8")
    return jsonschema.Draft202012Validator(fixtures.parse_yaml(text))


def schema_problem(data: Any) -> str | None:
    """The first place where `data` breaks the schema ("/where: why"), or None."""
    errors = sorted(validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    return "/" + "/".join(map(str, errors[0].absolute_path)) + f": {errors[0].message}"


def dumps(data: dict[str, Any]) -> str:
    """The file as JSON; never NaN or Infinity (allow_nan=False: they are not JSON,
    and parse refuses them, so none is stored)."""
    return json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False)

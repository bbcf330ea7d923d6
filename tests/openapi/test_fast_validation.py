"""The fast path (jsonschema-rs) never accepts what the Python validator rejects,
and it does accept the documented samples (so it is actually used)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capmock import fixtures
from capmock.openapi import contract

SAMPLES = [(s.operation, s.role, s.file) for s in fixtures.samples()
           if s.format == "json" and s.role in ("request", "response")]


def load(file: str) -> Any:
    return json.loads(fixtures.ROOT.joinpath("samples", file).read_text("utf-8"))


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every string value of a JSON document."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in leaves(v, (*path, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in leaves(v, (*path, i))]
    return [path] if isinstance(node, str) else []


def replaced(data: Any, path: tuple, value: Any) -> Any:
    copied = copy.deepcopy(data)
    node = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copied


@pytest.mark.parametrize(("operation", "role", "path"), SAMPLES,
                         ids=[f for _, _, f in SAMPLES])
@pytest.mark.parametrize("profile", ["lenient", "strict"])
def test_documented_samples_take_the_fast_path(operation: str, role: str, path: str,
                                               profile: str) -> None:
    schema = contract.operations()[operation].body_schemas[role]
    data = load(path)
    assert contract.surely_valid(schema, data, profile) == \
        contract.json_validator(schema, profile).is_valid(data)


TRICKY = st.text(alphabet=st.sampled_from(
    [*"09az AZ@.-:_\n\t", "\x1c", "\x1d", "\x1f", "\x85", "\xa0", "\u2028", "\ufeff",
     "\x00", "é", "٣"]), max_size=14)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_fast_path_never_accepts_what_python_rejects(sample: tuple, data: Any) -> None:
    operation, role, path = sample
    schema = contract.operations()[operation].body_schemas[role]
    document = load(path)
    where = data.draw(st.sampled_from(leaves(document)))
    value = data.draw(st.one_of(TRICKY, st.integers(), st.none(), st.just({}), st.just([])))
    mutated = replaced(document, where, value)
    if contract.surely_valid(schema, mutated):
        assert contract.json_validator(schema).is_valid(mutated), (where, value)

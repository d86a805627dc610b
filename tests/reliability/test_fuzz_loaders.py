"""Fuzzing the loaders of our own formats (the arch codec has its own, tests/arch/test_codec_fuzz.py): whatever the
bytes, the YAML config loader and the latency-table loader either load or raise ValueError with a message; never
a KeyError, TypeError or AttributeError from deep inside."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.latency.build import build_space_table
from hwnas.run.preset import load_config
from hwnas.space import get_space

TINY_YAML = str(Path(__file__).resolve().parents[1] / "search" / "tiny_space.yaml")
SECTIONS = ["dataset", "seed", "target", "budgets", "lut", "search", "train", "export", "references", "measure",
            "device", "data_dir"]
KEYS = ["backend", "threads", "batch_size", "max_latency_ms", "latency_fraction", "method", "space", "epochs",
        "limit", "settings", "names", "rounds", "formats", "calibrate", "evolution.population", "bogus"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["spos", "fbnet", "onnxruntime", "quick", "-1", "1e9"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(KEYS), inner, max_size=3), max_leaves=8)
configs = st.dictionaries(st.sampled_from(SECTIONS), st.one_of(values, st.dictionaries(st.sampled_from(KEYS), values,
                                                                                        max_size=4)), max_size=5)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=configs)
def test_any_yaml_mapping_loads_or_fails_with_a_value_error(data, tmp_path):
    path = tmp_path / "preset.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load_config(path)
    except ValueError as e:
        assert str(e).strip()


@FAST
@given(text=st.text(max_size=200))
def test_any_text_as_a_preset_loads_or_fails_with_a_value_error(text, tmp_path):
    path = tmp_path / "preset.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ValueError as e:
        assert str(e).strip()


@pytest.fixture(scope="module")
def table_dict(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("lut") / "tiny.json"
    build_space_table(get_space(TINY_YAML, 28, 1, 10), path, warmup=0, rounds=1, progress=False)
    return json.loads(path.read_text())


def _paths(data, prefix=()):
    """Every (path, value) inside nested dicts/lists, the root first."""
    yield prefix, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data[:3]):
            yield from _paths(v, (*prefix, i))


@FAST
@given(picks=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["delete", "replace"]), scalars), min_size=1,
                      max_size=4))
def test_a_mutated_table_loads_or_fails_with_a_value_error(picks, table_dict, tmp_path):
    data = copy.deepcopy(table_dict)
    for index, action, value in picks:
        places = [p for p, _ in _paths(data) if p]
        if not places:
            break
        where = places[index % len(places)]
        parent = data
        for step in where[:-1]:
            parent = parent[step]
        if action == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = value
    path = tmp_path / "table.json"
    path.write_text(json.dumps(data))
    try:
        table = LatencyTable.load(path)
    except ValueError as e:
        assert str(path) in str(e)
        return
    space = get_space(TINY_YAML, 28, 1, 10)
    try:  # a table that loads predicts, or says what it lacks
        table.predict(space.to_spec(space.heaviest()))
    except ValueError as e:
        assert str(e).strip()


@FAST
@given(cut=st.integers(0, 10**6))
def test_a_truncated_table_fails_with_a_value_error_naming_the_file(cut, table_dict, tmp_path):
    text = json.dumps(table_dict)
    path = tmp_path / "table.json"
    path.write_text(text[: cut % len(text)])
    with pytest.raises(ValueError, match="table.json"):
        LatencyTable.load(path)

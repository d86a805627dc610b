"""Op keys: canonical (one key per module), parseable, rebuildable into the exact module the network runs."""

import random

import pytest
import torch

from hwnas.arch import decode
from hwnas.cost.lut_keys import (
    grid_widths, parse_key, space_digest, space_ops, spec_ops,
)
from hwnas.cost.latency.measure import op_module
from hwnas.nn import build_model
from hwnas.space import get_space, space_names

from .tiny import tiny_space


@pytest.mark.parametrize("name", space_names())
def test_keys_parse_back_and_are_unique(name):
    ops, fams = space_ops(get_space(name, 32))
    keys = [op.key for op in ops]
    assert len(keys) == len(set(keys))
    assert all(parse_key(k).key == k for k in keys)
    assert all(k in keys for points in fams.values() for _, k in points)


def test_equivalent_writings_share_a_key():
    def key(text, in_ch, act="re", se="in"):
        return spec_ops(decode(f"act={act} se={se} | stem_k3_s1_c{in_ch} | {text} | head"), 8, 3, 10)[1].key

    assert key("ir_r1_k3_s1_e6_c16", 16) == key("ir_r1_k3_s1_e1_c16_m96", 16) == key("ir_r1_k3_s1_e6_c16_nre", 16)
    # TF-NAS: with an explicit mid the nominal expansion changes nothing
    assert key("ir_r1_k3_s1_e3_c24_m83", 24) == key("ir_r1_k3_s1_e6_c24_m83", 24)
    assert key("ir_r1_k3_s1_e6_c16_se0.25", 16) == key("ir_r1_k3_s1_e6_c16_sec4", 16)
    assert key("ir_r1_k3_s1_e6_c16", 16) != key("ir_r1_k3_s1_e6_c16_noskip", 16)  # the residual changes the op
    assert key("ir_r1_k3_s1_e6_c16_se0.25", 16, se="exp") != key("ir_r1_k3_s1_e6_c16_sec24", 16, se="in")


def test_repeats_expand_to_one_key_per_layer():
    spec = decode("act=re se=in | stem_k3_s2_c8 | ir_r2_k3_s2_e3_c16 | head")
    ops = spec_ops(spec, 32, 3, 10)
    assert [op.key for op in ops] == ["stem_k3_s2_c8_nre@3x32x32", "ir_r1_k3_s2_e1_c16_m24_nre@8x16x16",
                                      "ir_r1_k3_s1_e1_c16_m48_nre@16x8x8", "head@16x8x8/classes=10"]


def _random_specs():
    rng = random.Random(0)
    for space in (tiny_space(), tiny_space(se_mode="exp"), get_space("hardcore", 32), get_space("spos", 32),
                  get_space("tfnas", 32)):
        for _ in range(2):
            yield space, space.to_spec(space.sample(rng))


@pytest.mark.parametrize("space, spec", list(_random_specs()))
def test_op_modules_are_the_network_modules(space, spec):
    """A module rebuilt from a key takes the network's block weights (strict) and gives the same output."""
    g = space.geometry
    net = build_model(spec, g.num_classes, g.in_channels).eval()
    ops = spec_ops(spec, g.input_size, g.in_channels, g.num_classes)
    parts = [net.stem, *net.blocks, net.head]
    assert len(ops) == len(parts)
    for op, part in zip(ops, parts):
        module = op_module(parse_key(op.key))
        module.load_state_dict(part.state_dict())  # strict: same structure and shapes
        x = torch.randn(2, *op.in_shape)
        with torch.no_grad():
            torch.testing.assert_close(module(x), part(x))


def test_elastic_ops_carry_a_family_and_width():
    ops, fams = space_ops(tiny_space(), width_grid=3)
    elastic = [op for op in ops if op.family]
    assert sorted({op.width for op in elastic}) == [16, 48, 80]
    assert len(fams) == 2 and all(len(points) == 3 for points in fams.values())
    assert all("_m*_" in f for f in fams)


def test_grid_widths():
    assert grid_widths((1, 2, 3), 8) == (1, 2, 3)
    assert grid_widths(tuple(range(16, 129)), 3) == (16, 72, 128)
    assert grid_widths((0.2, 0.4, 0.6, 0.8), None) == (0.2, 0.4, 0.6, 0.8)
    with pytest.raises(ValueError, match="at least 2"):
        grid_widths((1, 2, 3), 1)


def test_digest_follows_the_space_definition():
    assert space_digest(tiny_space()) == space_digest(tiny_space())
    assert space_digest(tiny_space()) != space_digest(tiny_space(se_mode="exp"))
    assert space_digest(get_space("fbnet", 224)) != space_digest(get_space("fbnet", 32))


@pytest.mark.parametrize("bad", ["ir_r1_k3", "ir@16x8", "ir@ax8x8", "stem_k3_s1_c8@3x8x8/foo=1"])
def test_malformed_keys(bad):
    with pytest.raises(ValueError, match="key"):
        parse_key(bad)


@pytest.mark.parametrize("name", space_names())
def test_published_members_of_a_space_are_covered_by_its_table(name):
    """Every op of the zoo networks a space contains is a table key or inside a timed width family (TF-NAS-A's
    mids such as 83 are interpolated)."""
    from hwnas import zoo
    from hwnas.cost.latency.table import LatencyTable

    space = get_space(name, 224)
    ops, fams = space_ops(space)
    entries = {op.key: {"median_ms": 1.0, "iqr_ms": 0.0} for op in ops}
    prov = {"space": name, "input_size": 224, "in_channels": 3, "num_classes": 1000, "backend": "fake",
            "backend_version": "0", "threads": 1, "batch_size": 1, "dtype": "float32", "timing": {}, "device": {}}
    table = LatencyTable(prov, entries, fams)
    members = [e.spec for e in map(zoo.get, zoo.names()) if space.contains(_choice_or_none(space, e.spec) or {})]
    assert members, f"no zoo network is a member of {name}"
    for spec in members:
        assert table.predict(spec) == pytest.approx(len(table.spec_ops(spec)))


def _choice_or_none(space, spec):
    try:
        return space.choice_for(spec)
    except ValueError:
        return None

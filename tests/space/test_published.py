"""Every published network of a space is a member: SearchSpace.choice_for finds it, and to_spec gives it back."""

import dataclasses
import random

import pytest

from hwnas import zoo
from hwnas.arch import decode, encode
from hwnas.cost import count_params
from hwnas.space import fbnet_space, get_space, space_from_dict

PUBLISHED = [
    ("fbnet", {"head_width": 1504}, "fbnet_a"),
    ("fbnet", {}, "fbnet_b"),
    ("fbnet", {}, "fbnet_c"),
    ("fbnet", {"head_width": 1504}, "fbnet_iphonex"),
    ("fbnet", {"head_width": 1504}, "fbnet_s8"),
    *(("hardcore", {}, f"hardcorenas_{v}") for v in "abcdef"),
    ("tfnas", {}, "tfnas_a"),
    ("spos", {}, "spos_official"),
    ("spos", {}, "spos_block_channel"),
]


def _space(name, kwargs):
    return fbnet_space(**kwargs) if kwargs else get_space(name)


@pytest.mark.parametrize("name, kwargs, network", PUBLISHED)
def test_published_network_round_trips(name, kwargs, network):
    space, entry = _space(name, kwargs), zoo.get(network)
    choice = space.choice_for(entry.spec)
    assert space.contains(choice)
    spec = space.to_spec(choice)
    assert encode(spec) == encode(entry.spec)
    assert count_params(spec) == count_params(entry.spec)


def test_known_choices():
    c = get_space("tfnas").choice_for(zoo.get("tfnas_a").spec)
    assert (c["s0_b0_op"], c["s0_b0_width"], c["s0_b1_op"], c["s0_b1_width"]) == ("k3_e6_se", 83, "k5_e6", 128)
    assert all(c[f"s{s}_depth"] == n for s, n in enumerate((2, 3, 4, 4, 4)))
    c = get_space("hardcore").choice_for(zoo.get("hardcorenas_a").spec)
    assert c["s0_depth"] == 2 and c["s0_b0_op"] == "k5_e3" and c["s0_b1_op"] == "k5_e3_se"
    assert c["s0_b2_op"] == "k3_e3"  # dropped slots take their first value: the choice is canonical
    c = get_space("spos").choice_for(zoo.get("spos_block_channel").spec)
    assert (c["s0_b0_op"], c["s0_b0_width"], c["s0_b2_op"], c["s0_b2_width"]) == ("shuffle3", 1.4, "xception", 0.8)


@pytest.mark.parametrize("name", ["fbnet", "hardcore", "tfnas", "spos"])
def test_choice_for_inverts_to_spec_on_samples(name):
    space, rng = get_space(name, input_size=32), random.Random(5)
    for _ in range(10):
        spec = space.to_spec(space.sample(rng))
        assert space.to_spec(space.choice_for(spec)) == spec


def test_written_out_repeats_are_the_same_network():
    space = get_space("fbnet")
    text = encode(space.to_spec(space.heaviest()))
    merged = text.replace("ir_r1_k5_s1_e6_c32 ir_r1_k5_s1_e6_c32 ir_r1_k5_s1_e6_c32", "ir_r3_k5_s1_e6_c32")
    assert merged != text
    assert space.choice_for(decode(merged)) == space.choice_for(decode(text))


@pytest.mark.parametrize("network, edit, needle", [
    ("fbnet_c", ("ir_r1_k3_s1_e6_c352", "ir_r1_k7_s1_e6_c352"), "ir_r1_k7_s1_e6_c352 is not one of slot s6_b0"),
    ("fbnet_c", ("stem_k3_s2_c16", "stem_k3_s2_c24"), "stem 'stem_k3_s2_c24' is not the space's"),
    ("fbnet_c", ("cn_r1_k1_s1_c1984", "cn_r1_k1_s1_c1504"), "fixed suffix stages differ"),
    ("fbnet_c", ("act=re", "act=r6"), "act 'r6' is not the space's 're'"),
    ("fbnet_c", (" | ir_r1_k3_s1_e6_c352 |", " |"), "has 6 searchable stages; space 'fbnet' has 7"),
])
def test_networks_outside_the_space_are_named(network, edit, needle):
    text = zoo.get(network).arch
    assert edit[0] in text
    with pytest.raises(ValueError, match=needle):
        get_space("fbnet").choice_for(decode(text.replace(*edit)))


def test_outside_depth_and_width_ranges():
    hardcore, tfnas = get_space("hardcore"), get_space("tfnas")
    a = encode(zoo.get("hardcorenas_a").spec)
    one_block = a.replace(" ir_r1_k5_s1_e3_c24_nre_se0.25", "")
    with pytest.raises(ValueError, match="searchable stage 0 takes 2..4 blocks, the network has 1"):
        hardcore.choice_for(decode(one_block))
    wide = encode(zoo.get("tfnas_a").spec).replace("_m83_", "_m200_")  # 200 > 8 * 16
    with pytest.raises(ValueError, match="not one of slot s0_b0's candidates .* at widths 16..128"):
        tfnas.choice_for(decode(wide))
    with pytest.raises(ValueError, match="not in space 'tfnas'"):
        tfnas.choice_for(zoo.get("hardcorenas_a").spec)
    with pytest.raises(ValueError, match="expected an ArchSpec"):
        tfnas.choice_for("fbnet_a")


def test_a_stage_of_depth_zero_vanishes_and_is_found_again():
    space = space_from_dict({"stem": "stem_k3_s2_c16", "stages": [
        {"out": 16, "stride": 1, "depth": [1, 2], "candidates": ["ir_k3_e3", "ir_k5_e6"]},
        {"out": 24, "stride": 2, "depth": [1, 2], "candidates": ["ir_k3_e3"]}]})
    # The first stage keeps 16 channels at stride 1, so a depth of 0 is a valid network.
    space = dataclasses.replace(space, min_depth={0: 0, 1: 1})
    choice = {**space.heaviest(), "s0_depth": 0}
    spec = space.to_spec(choice)
    assert len(spec.stages) == 1
    found = space.choice_for(spec)
    assert found["s0_depth"] == 0 and space.to_spec(found) == spec

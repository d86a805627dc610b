"""The built-in spaces: variation stays inside, sampling is seeded, heaviest() is the largest, strict checks,
the small-input macro-architecture, width_mult, and no torch import."""

import random
import subprocess
import sys

import pytest

from hwnas.arch import feature_sizes, for_input_size, make_divisible, resolve_layers
from hwnas.cost import count_macs
from hwnas.space import SearchSpace, fbnet_space, get_space, space_names

NAMES = ["fbnet", "hardcore", "tfnas", "spos"]


@pytest.fixture(scope="module", params=NAMES)
def space(request) -> SearchSpace:
    return get_space(request.param)


def test_registry_lists_the_four_spaces():
    assert space_names() == NAMES
    with pytest.raises(ValueError, match="unknown space 'nope'; valid: fbnet, hardcore, tfnas, spos"):
        get_space("nope")


def test_variation_stays_inside_the_space(space):
    rng = random.Random(0)
    a, b = space.sample(rng), space.sample(rng)
    children = [space.mutate(a, rng, prob=0.5), space.crossover(a, b, rng), space.heaviest()]
    for choice in (a, b, *children):
        assert space.contains(choice)
        space.to_spec(choice)  # a valid ArchSpec
    assert space.mutate(a, rng, prob=0.0) == a
    assert space.mutate(a, rng, prob=1.0) != a


def test_sampling_and_variation_are_deterministic(space):
    def run(seed):
        rng = random.Random(seed)
        a, b = space.sample(rng), space.sample(rng)
        return a, b, space.mutate(a, rng, 0.3), space.crossover(a, b, rng)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_heaviest_has_the_most_macs(space):
    rng = random.Random(1)
    heaviest = count_macs(space.to_spec(space.heaviest()))
    assert all(count_macs(space.to_spec(space.sample(rng))) < heaviest for _ in range(50))


def test_sizes():
    hardcore_stage = 12 ** 4 * 3  # four 12-way blocks, depth in {2, 3, 4}
    tfnas = 1
    # TF-NAS stages as (in, out, blocks): each block has 8 ops x mid widths in..8*in; depth 1..blocks.
    for in_ch, out, n in ((16, 24, 2), (24, 40, 3), (40, 80, 4), (80, 112, 4), (112, 192, 4), (192, 320, 1)):
        for cin in [in_ch] + [out] * (n - 1):
            tfnas *= 8 * (7 * cin + 1)
        tfnas *= n
    assert get_space("fbnet").size() == 9 ** 22
    assert get_space("hardcore").size() == hardcore_stage ** 5
    assert get_space("tfnas").size() == tfnas
    assert get_space("spos").size() == 4 ** 20 * 10 ** 20
    assert [len(get_space(n).slots()) for n in NAMES] == [22, 20, 18, 20]


def test_check_is_strict(space):
    good = space.heaviest()
    first = next(iter(good))
    missing = dict(good)
    del missing[first]
    with pytest.raises(ValueError, match=f"missing '{first}'"):
        space.check(missing)
    with pytest.raises(ValueError, match="has no dimension 's9_b9_op'"):
        space.check({**good, "s9_b9_op": "x"})
    with pytest.raises(ValueError, match=f"{first}='nope' is not one of"):
        space.check({**good, first: "nope"})
    with pytest.raises(ValueError, match="a choice is a dict"):
        space.check([good])
    assert not space.contains({**good, first: "nope"})
    with pytest.raises(ValueError, match="is not one of"):
        space.to_spec({**good, first: "nope"})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [28, 32])
def test_small_input_macro_ends_on_at_least_2x2(name, size):
    space = get_space(name, input_size=size, in_channels=1, num_classes=10)
    rng = random.Random(size)
    for choice in (space.heaviest(), space.sample(rng), space.sample(rng)):
        spec = space.to_spec(choice)
        assert spec.stem.stride == 1  # the stem is the first downsampling to go
        assert feature_sizes(spec, size)[1][-1][1] == 2


@pytest.mark.parametrize("name", NAMES)
def test_small_input_macro_is_the_for_input_size_rule(name):
    big = get_space(name)
    rng = random.Random(3)
    for size in (8, 16, 28, 32, 64, 96):
        small = get_space(name, input_size=size)
        for _ in range(3):
            choice = big.sample(rng)
            assert small.to_spec(choice) == for_input_size(big.to_spec(choice), size)
    choice = big.sample(rng)
    assert get_space(name, input_size=64).to_spec(choice) == big.to_spec(choice)  # 64 px already ends on 2x2


@pytest.mark.parametrize("name", NAMES)
def test_width_mult_scales_every_channel(name):
    base, half = get_space(name), get_space(name, width_mult=0.5)
    full, small = base.to_spec(base.heaviest()), half.to_spec(half.heaviest())  # TF-NAS widths follow in_ch
    assert small.stem.out == make_divisible(full.stem.out * 0.5, 8)
    outs = [(a.out_ch, b.out_ch) for a, b in zip(resolve_layers(full), resolve_layers(small))]
    assert all(b == make_divisible(a * 0.5, 8) for a, b in outs)
    assert count_macs(small) < count_macs(full) / 2
    assert half.geometry.width_mult == 0.5


@pytest.mark.parametrize("kwargs, needle", [
    ({"input_size": 0}, "input_size must be a positive integer"),
    ({"in_channels": 1.5}, "in_channels must be a positive integer"),
    ({"num_classes": True}, "num_classes must be a positive integer"),
    ({"width_mult": 0}, "width_mult must be in"),
])
def test_geometry_is_checked(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        get_space("hardcore", **kwargs)


def test_geometry_errors_name_the_space():
    with pytest.raises(ValueError, match="space 'spos' at width_mult 0.1: .*must exceed input"):
        get_space("spos", width_mult=0.1)
    with pytest.raises(ValueError, match="head_width must be a positive integer"):
        fbnet_space(head_width=0)


def test_candidates_are_ordered_light_to_heavy():
    space = get_space("fbnet")
    assert list(space.slots()[0].candidates)[0] == "skip" and list(space.slots()[0].candidates)[-1] == "k5_e6"
    assert list(get_space("hardcore").slots()[0].candidates)[-1] == "k5_e6_se"
    assert list(get_space("tfnas").slots()[0].candidates)[-1] == "k5_e6_se"
    assert list(get_space("spos").slots()[0].candidates) == ["shuffle3", "shuffle5", "shuffle7", "xception"]


def test_space_package_does_not_import_torch():
    code = "import sys, hwnas.space; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", NAMES + ["example"])
def test_slots_keep_the_contract(name):
    """What supernets rely on (hwnas/space/base.py): optional slots keep the shape, candidates are written at
    the largest width, widths increase, and labels follow s{stage}_b{block}."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "configs" / "spaces" / "example.yaml"
    space = get_space(str(path) if name == "example" else name, input_size=28)
    for s, stage in enumerate(space.slots_by_stage):
        for j, slot in enumerate(stage):
            assert (slot.label, slot.stage, slot.index) == (f"s{s}_b{j}", s, j)
            assert all(b.out == slot.out_ch and b.stride == slot.stride and b.repeats == 1
                       for b in slot.candidates.values())
            if slot.optional:
                assert slot.stride == 1 and slot.in_ch == slot.out_ch and j >= space.min_depth[s]
            if slot.widths is not None:
                assert list(slot.widths) == sorted(set(slot.widths))
                # each candidate at its own largest width, one of the slot's; the widest at the slot's largest
                # (TF-NAS: e3 ops reach 4 x in, e6 ops 8 x in)
                written = [{"ir": b.mid, "shuffle": b.scale, "xception": b.scale}.get(b.type, slot.widths[-1])
                           for b in slot.candidates.values()]
                assert all(w in slot.widths for w in written) and max(written) == slot.widths[-1]

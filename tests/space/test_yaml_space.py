"""Spaces defined in YAML: the shipped example, a YAML copy of a built-in space, and strict errors."""

import random
from pathlib import Path

import pytest
import yaml

from hwnas import zoo
from hwnas.arch import encode, feature_sizes
from hwnas.space import get_space, load_yaml_space, space_from_dict

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "spaces" / "example.yaml"

# The SPOS space written in YAML: it must hold the released SPOS networks exactly as the built-in space does.
SPOS_YAML = """
name: spos-yaml
stem: stem_k3_s2_c16
candidates: {k3: shuffle_k3, k5: shuffle_k5, k7: shuffle_k7, x: xception_k3}
stages:
""" + "".join(f"""  - {{out: {out}, stride: 2, depth: {n}, candidates: [k3, k5, k7, x],
     widths: [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0]}}
""" for out, n in ((64, 4), (160, 4), (320, 8), (640, 4))) + """suffix: [cn_r1_k1_s1_c1024]
head: head_d0.1_nobias
"""

MINIMAL = {"stem": "stem_k3_s2_c16", "stages": [{"out": 24, "stride": 2, "depth": [1, 2],
                                                "candidates": ["skip", "ir_k3_e3"]}]}


def test_example_loads_and_round_trips():
    space = get_space(str(EXAMPLE))
    assert space.name == "example" and len(space.slots()) == 9 and space.min_depth == {0: 1, 1: 2, 2: 1}
    rng = random.Random(0)
    for choice in (space.heaviest(), *(space.sample(rng) for _ in range(20))):
        spec = space.to_spec(choice)
        assert space.to_spec(space.choice_for(spec)) == spec
    assert space.slots()[2].widths == (48, 96, 144, 192, 240)


def test_example_small_input_and_width_mult():
    # The example downsamples 16x: 28 px already ends on 2x2, 16 px needs the stem at stride 1.
    for size, stem_stride in ((28, 2), (16, 1)):
        space = get_space(str(EXAMPLE), input_size=size, in_channels=1, num_classes=10, width_mult=0.5)
        spec = space.to_spec(space.heaviest())
        assert spec.stem.stride == stem_stride and spec.stem.out == 8
        assert feature_sizes(spec, size)[1][-1][1] == 2
    assert space.slots()[2].widths == (24, 48, 72, 96, 120)


def test_a_yaml_copy_of_spos_holds_the_released_networks(tmp_path):
    path = tmp_path / "spos.yaml"
    path.write_text(SPOS_YAML)
    space = load_yaml_space(path)
    assert space.name == "spos-yaml" and space.size() == get_space("spos").size()
    for name in ("spos_official", "spos_block_channel"):
        spec = zoo.get(name).spec
        assert encode(space.to_spec(space.choice_for(spec))) == encode(spec)
    # ShuffleNetV2 stride-2 units keep their stride on small inputs, as in the built-in space.
    small = load_yaml_space(path, input_size=28)
    assert small.stem.stride == 1 and [s[0].stride for s in small.slots_by_stage] == [2, 2, 2, 2]


def _with(path: str, value, data=None):
    """A copy of MINIMAL with the value at a dotted path (list indices as ints) replaced; None deletes the key."""
    data = yaml.safe_load(yaml.safe_dump(data or MINIMAL))
    *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = data
    for k in parents:
        node = node[k]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return data


ELASTIC = _with("stages.0.widths", [32, 48, 64])


@pytest.mark.parametrize("data, needle", [
    (_with("colour", "red"), "colour: unknown key; valid keys:"),
    (_with("stem", None), "stem: missing"),
    (_with("stem", "stem_k4_s2_c16"), "stem: .*kernel"),
    (_with("act", "relu"), "act: 'relu' is not one of"),
    (_with("se_mode", "out"), "se_mode: 'out' is not one of"),
    (_with("head", "head_k3"), "head: "),
    (_with("stages", []), "stages: expected a non-empty list"),
    (_with("stages.0.strid", 2), r"stages\[0\].strid: unknown key"),
    (_with("stages.0.stride", None), r"stages\[0\].stride: missing"),
    (_with("stages.0.out", 0), r"stages\[0\].out: expected an integer >= 1"),
    (_with("stages.0.stride", 3), r"stages\[0\].stride: expected 1 or 2"),
    (_with("stages.0.depth", [2, 1]), r"stages\[0\].depth: most \(1\) is below fewest \(2\)"),
    (_with("stages.0.depth", [0, 1]), r"stages\[0\].depth\[0\]: expected an integer >= 1"),
    (_with("stages.0.depth", [1, 2, 3]), r"stages\[0\].depth: expected \[fewest, most\]"),
    (_with("stages.0.candidates", []), r"stages\[0\].candidates: expected a non-empty list"),
    (_with("stages.0.candidates", ["skip", "skip"]), r"stages\[0\].candidates: repeats a candidate"),
    (_with("stages.0.candidates", ["ir_k3_e3_c32"]), r"stages\[0\].candidates\[0\]: .* sets r, s or c"),
    (_with("stages.0.candidates", ["mb3"]),
     r"stages\[0\].candidates\[0\]: 'mb3' is neither a name under `candidates` \(none defined\)"),
    (_with("stages.0.candidates", ["ir_k3_e3", "ir_k7_e9_x"]), r"stages\[0\].candidates\[1\]: .*unknown token 'x'"),
    (_with("description", 3), "description: expected a non-empty string"),
    (_with("stages.0.candidates", ["ir_k3"]), r"stages\[0\].candidates\[0\]: .*missing e"),
    (_with("stages.0.candidates", ["ds_k3"], ELASTIC), r"candidates\[0\]: 'ds' blocks have no elastic width"),
    (_with("stages.0.candidates", ["ir_k3_e3_m40"], ELASTIC), r"stages\[0\].candidates\[0\]: .* sets m or w"),
    (_with("stages.0.widths", [32, 32]), r"stages\[0\].widths: widths must be positive and strictly increasing"),
    (_with("stages.0.widths", {"min": 8, "max": 64}), r"stages\[0\].widths.step: missing"),
    (_with("stages.0.widths", {"min": 64, "max": 8, "step": 8}), r"stages\[0\].widths.max: 8 is below min 64"),
    (_with("stages.0.widths", [0.5, 1.0]), r"stages\[0\].candidates\[1\]: an ir block takes int mid widths"),
    (_with("stages.0.widths", ["a"]), r"stages\[0\].widths: widths are numbers"),
    (_with("candidates", ["ir_k3_e3"]), "candidates: expected a mapping"),
    (_with("candidates", {"mb": 3}), "candidates.mb: expected a non-empty string"),
    (_with("prefix", ["ds_r1_k3_s1_c16 ir_r1_k4"]), r"prefix\[0\]: .*k4"),
    (_with("suffix", "cn_r1_k1_s1_c1280"), "suffix: expected a list of stages"),
])
def test_errors_name_the_key(data, needle):
    with pytest.raises(ValueError, match=needle):
        space_from_dict(data)


def test_channel_errors_surface_at_load():
    data = _with("stages.0.candidates", ["shuffle_k3_w1"])
    data["stages"][0]["stride"] = 1  # a stride-1 ShuffleNetV2 unit needs in == out; 16 != 24
    with pytest.raises(ValueError, match=r"stages\[0\].candidates\[0\]: at block 0: .*ShuffleNetV2"):
        space_from_dict(data)
    data = _with("stages.0.candidates", ["ir_k3_e1_g3"])  # 16 channels do not split in 3 groups
    with pytest.raises(ValueError, match=r"stages\[0\].candidates\[0\]: at block 0: .*group conv g3"):
        space_from_dict(data)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="space file .*nope.yaml does not exist"):
        get_space(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("stem: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: invalid YAML"):
        load_yaml_space(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="list.yaml: space: expected a mapping, got list"):
        load_yaml_space(listy)
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump(_with("stages.0.stride", 4)))
    with pytest.raises(ValueError, match=r"typo.yaml: stages\[0\].stride: expected 1 or 2, got 4"):
        get_space(str(typo))

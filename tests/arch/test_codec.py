"""The one-line arch text and JSON forms: exact round trips and strict, helpful errors."""

import json

import pytest

from hwnas import zoo
from hwnas.arch import ArchSpec, BlockSpec, StemSpec, decode, decode_block, dumps, encode, encode_block, loads

MBV2 = ("act=r6 se=in | stem_k3_s2_c32 | ds_r1_k3_s1_e1_c16 | ir_r2_k3_s2_e6_c24 | ir_r3_k3_s2_e6_c32 | "
        "ir_r4_k3_s2_e6_c64 | ir_r3_k3_s1_e6_c96 | ir_r3_k3_s2_e6_c160 | ir_r1_k3_s1_e6_c320 | cn_r1_k1_s1_c1280 | head")


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_text_round_trips(name):
    text = zoo.get(name).arch
    assert encode(decode(text)) == text
    assert decode(text) == zoo.get(name).spec


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_json_round_trips(name):
    spec = zoo.get(name).spec
    assert loads(dumps(spec)) == spec


@pytest.mark.parametrize("text", [
    "ir_r1_k5_s2_e3_c24_nre_se0.25", "ir_r1_k3_s1_e1_c16_g2", "ir_r1_k3_s1_e6_c24_m83_nre_sec32",
    "ds_r1_k3_s1_e1_c16_noskip", "dsa_r1_k5_s2_e1_c8", "cn_r1_k1_s1_c960", "skip_s2_c24", "skip_r2_s1_c8",
    "shuffle_r1_k7_s2_c64_w1.4", "xception_r1_k3_s1_c64_w0.2", "ir_r1_k3_s1_e2.5_c80_nhs",
])
def test_canonical_blocks_round_trip(text):
    assert encode_block(decode_block(text)) == text


def test_timm_order_is_accepted_and_canonicalised():
    # MobileNetV3 strings put se before the activation; HardCoRe puts it after. Both parse to the same block.
    assert decode_block("ir_r3_k5_s2_e3_c40_se0.25_nre") == decode_block("ir_r3_k5_s2_e3_c40_nre_se0.25")
    assert encode_block(decode_block("ds_r1_k3_s1_c16")) == "ds_r1_k3_s1_e1_c16"


def test_repeats_expand_with_stride_on_first_only():
    from hwnas.arch import resolve_layers
    layers = resolve_layers(decode(MBV2))
    assert [layer.stride for layer in layers[1:3]] == [2, 1]
    assert len(layers) == 1 + 2 + 3 + 4 + 3 + 3 + 1 + 1


@pytest.mark.parametrize("text, needle", [
    ("ir_r1_k4_s1_e6_c16", "k4"),
    ("ir_r1_k3_s3_e6_c16", "s3"),
    ("ir_r1_k3_s1_e6_c0", "c"),
    ("ir_r1_k3_s1_e6", "missing c"),
    ("ir_r1_k3_s1_c16", "missing e"),
    ("foo_r1_k3_s1_c16", "unknown block type 'foo'"),
    ("ir_r1_k3_s1_e6_c16_x9", "unknown token 'x9'"),
    ("ir_r1_k3_s1_e6_c16_k5", "given twice"),
    ("ir_r1_k3_s1_e-6_c16", "e-6"),
    ("ir_r1_k3_s1_e0_c16", "expansion"),
    ("ir_r1_k3_s1_e6_c16_se1.5", "SE ratio"),
    ("ir_r1_k3_s1_e6_c16_se0.25_sec8", "not both"),
    ("ir_r1_k3_s1_e6_c16__nre", "empty token"),
    ("cn_r1_k1_s1_c16_se0.25", "not valid for this type"),
    ("shuffle_r1_k9_s1_c64_w1", "(3, 5, 7)"),
    ("shuffle_r1_k3_s1_c64", "scale"),
    ("ds_r1_k3_s1_e6_c16", "expansion 1"),
    ("ir_r1_k3_s1_e6_c16_d0.1", "head"),
    ("ir_r1_k3_s1_e6_c16_nfoo", "unknown token"),
    ("ir_r100_k3_s1_e6_c16", "repeats"),
])
def test_bad_blocks_name_the_problem(text, needle):
    with pytest.raises(ValueError, match=None) as info:
        decode_block(text)
    assert needle in str(info.value), str(info.value)


@pytest.mark.parametrize("text, needle", [
    ("", "expected 'OPTIONS"),
    ("act=re se=in | stem_k3_s2_c16 | head", "at least one stage"),
    ("act=re | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | head", "missing ['se']"),
    ("act=xx se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | head", "activation"),
    ("act=re se=in foo=1 | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | head", "unknown option"),
    ("act=re se=in | ir_r1_k3_s1_e1_c16 | ir_r1_k3_s1_e1_c16 | head", "must be the stem"),
    ("act=re se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | ir_r1_k3_s1_e1_c16", "must be the head"),
    ("act=re se=in | stem_k3_s2_c16 |  | head", "stage 0 is empty"),
    ("act=re se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | head_nre", "post-pool conv"),
    ("act=re se=in | stem_k3_s2_c15 | ir_r1_k3_s1_e1_c16_g2 | head", "divisible by 2"),
    ("act=re se=in | stem_k3_s2_c16 | shuffle_r1_k3_s1_c32_w1 | head", "input == output"),
    ("act=re se=in | stem_k3_s2_c64 | shuffle_r1_k3_s2_c32_w1 | head", "must exceed input"),
    ("act=re se=in | stem_k3_s2_c16_w1 | ir_r1_k3_s1_e1_c16 | head", "stem takes only"),
])
def test_bad_archs_name_the_problem(text, needle):
    with pytest.raises(ValueError) as info:
        decode(text)
    assert needle in str(info.value), str(info.value)


def test_json_is_strict():
    data = json.loads(dumps(decode(MBV2)))
    assert loads(json.dumps(data)) == decode(MBV2)
    for key, value, needle in [("extra", 1, "unknown keys"), ("version", 2, "version"),
                               ("text", "act=re se=in | x", "does not match"), ("stages", "ir", "list of lists")]:
        bad = dict(data, **{key: value})
        with pytest.raises(ValueError, match=needle):
            loads(json.dumps(bad))
    with pytest.raises(ValueError, match="malformed"):
        loads("{not json")


def test_specs_validate_when_built_in_python():
    with pytest.raises(ValueError, match="kernel"):
        BlockSpec("ir", out=16, kernel=2, exp=6)
    with pytest.raises(ValueError, match="stages"):
        ArchSpec(stem=StemSpec(16), stages=())
    with pytest.raises(ValueError, match="not valid for this type"):
        BlockSpec("cn", out=16, groups=2)

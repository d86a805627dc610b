"""scale_width: the width multiplier applied to a whole spec."""

import pytest

from hwnas import zoo
from hwnas.arch import decode, encode, make_divisible, resolve_layers, scale_depth, scale_width


def test_scale_width_scales_every_channel_count_to_a_multiple_of_eight():
    spec = zoo.get("mobilenetv3_large_100").spec
    half = scale_width(spec, 0.5)
    assert half.stem.out == make_divisible(spec.stem.out * 0.5)
    assert half.head.features == make_divisible(spec.head.features * 0.5)
    for old, new in zip(spec.blocks(), half.blocks()):
        assert new.out == make_divisible(old.out * 0.5) and new.out % 8 == 0
        assert (new.type, new.kernel, new.stride, new.exp, new.se) == (old.type, old.kernel, old.stride, old.exp,
                                                                       old.se)
    assert sum(layer.out_ch for layer in resolve_layers(half)) < sum(layer.out_ch for layer in resolve_layers(spec))
    assert scale_width(spec, 1.0) == spec  # the zoo's widths are already multiples of 8


def test_scale_width_keeps_grouped_blocks_and_explicit_widths_consistent():
    spec = decode("act=re se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e3_c48_g2 cn_r1_k1_s1_c32 | head_c64")
    scaled = scale_width(spec, 0.3)
    grouped = scaled.blocks()[0]
    assert grouped.out % (8 * grouped.groups) == 0
    resolve_layers(scaled)  # channel chain still valid
    explicit = scale_width(decode("act=re se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e3_c32_m96_sec24 | head"), 0.5).blocks()[0]
    assert (explicit.mid, explicit.se_channels) == (48, 16)
    assert "stem_k3_s2_c32" in encode(scale_width(spec, 2.0))


@pytest.mark.parametrize("bad", [0, -1.0, True, "0.5"])
def test_scale_width_rejects_non_positive_multipliers(bad):
    with pytest.raises(ValueError, match="width multiplier"):
        scale_width(decode("act=re se=in | stem_k3_s2_c16 | ds_r1_k3_s1_c16 | head"), bad)


def test_scale_depth_rounds_repeats_up_and_keeps_one():
    spec = zoo.get("mobilenetv2_100").spec
    half = scale_depth(spec, 0.5)
    assert [b.repeats for b in half.blocks()] == [max(1, -(-b.repeats // 2)) for b in spec.blocks()]
    assert len(resolve_layers(half)) < len(resolve_layers(spec))
    assert scale_depth(spec, 1.0) == spec
    with pytest.raises(ValueError, match="depth multiplier"):
        scale_depth(spec, 0)

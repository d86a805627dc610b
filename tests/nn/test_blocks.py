"""Every registered block type: builds from one arch line, right output shape, every parameter learns."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from hwnas.arch import decode, resolve_layers
from hwnas.blocks.inverted_residual.module import InvertedResidual
from hwnas.blocks.registry import BLOCK_TYPES, BLOCKS, create_block, register_block
from hwnas.nn import ChannelShuffle, SqueezeExcite

SIZE = 9  # odd, so a stride-2 block must round up: ceil(9 / 2) = 5

# (se mode, block string, block input width)
CASES = [
    ("in", "ir_r1_k3_s1_e6_c16", 16),
    ("in", "ir_r1_k5_s2_e3_c24_nhs", 16),
    ("in", "ir_r1_k3_s1_e1_c16_g2", 16),
    ("in", "ir_r1_k5_s2_e1_c24_g2", 16),
    ("in", "ir_r1_k3_s1_e4_c16_se0.25", 16),
    ("exp", "ir_r1_k3_s1_e4_c16_se0.25", 16),
    ("exp", "ir_r1_k7_s2_e3_c24_nsw_se0.25", 16),
    ("in", "ir_r1_k3_s1_e6_c24_m40_nsw_sec8", 16),
    ("in", "ir_r1_k3_s1_e3_c16_noskip", 16),
    ("in", "ds_r1_k3_s1_e1_c16", 16),
    ("in", "ds_r1_k5_s2_e1_c24_nhs_se0.25", 16),
    ("exp", "ds_r1_k3_s1_e1_c16_se0.5", 16),
    ("in", "dsa_r1_k3_s1_e1_c16_nr6", 16),
    ("in", "dsa_r1_k5_s2_e1_c8", 16),
    ("in", "cn_r1_k1_s1_c32", 16),
    ("in", "cn_r1_k3_s2_c8_nhs", 16),
    ("in", "skip_s1_c16", 16),
    ("in", "skip_s2_c24", 16),
    ("in", "skip_s1_c24", 16),
    ("in", "shuffle_r1_k3_s1_c16_w1", 16),
    ("in", "shuffle_r1_k5_s2_c32_w1.4", 16),
    ("in", "shuffle_r1_k7_s1_c16_w0.5", 16),
    ("in", "shuffle_r1_k7_s2_c24_w1", 8),
    ("in", "xception_r1_k3_s1_c16_w1", 16),
    ("in", "xception_r1_k3_s2_c32_w0.8", 16),
]


def layer_of(block: str, cin: int, se: str = "in", act: str = "re"):
    """The one resolved layer of ``block`` placed after a stem of width ``cin``."""
    (layer,) = resolve_layers(decode(f"act={act} se={se} | stem_k3_s1_c{cin} | {block} | head"))
    return layer


def test_cases_cover_every_registered_type():
    assert set(BLOCKS) == set(BLOCK_TYPES)
    assert {b.split("_")[0] for _, b, _ in CASES} == set(BLOCKS)


@pytest.mark.parametrize("se, text, cin", CASES, ids=[f"{s}-{b}" for s, b, _ in CASES])
def test_block_forward_backward(se, text, cin):
    torch.manual_seed(0)
    layer = layer_of(text, cin, se)
    block = create_block(layer).train()
    assert type(block) is BLOCKS[layer.type]
    x = torch.randn(2, cin, SIZE, SIZE, requires_grad=True)
    out = block(x)
    side = math.ceil(SIZE / layer.stride)
    assert out.shape == (2, layer.out_ch, side, side)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    params = dict(block.named_parameters())
    bad = [n for n, p in params.items() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not bad, bad
    if layer.type == "skip" and layer.stride == 1 and layer.in_ch == layer.out_ch:
        assert not params and torch.equal(out, x)  # the FBNet skip is a true identity
    else:
        assert params


def _last_bn(block: nn.Module) -> nn.BatchNorm2d:
    return [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1]


@pytest.mark.parametrize("kind", ["ir_r1_k3_{s}_e3_{c}", "ds_r1_k3_{s}_e1_{c}", "dsa_r1_k5_{s}_e1_{c}_nhs",
                                  "ir_r1_k3_{s}_e1_{c}_g2_se0.25"])
@pytest.mark.parametrize("stride, out, noskip", [(1, 16, False), (2, 16, False), (1, 24, False), (1, 16, True)])
def test_residual_exactly_when_shape_is_kept(kind, stride, out, noskip):
    text = kind.format(s=f"s{stride}", c=f"c{out}") + ("_noskip" if noskip else "")
    layer = layer_of(text, 16)
    # dsa never has a residual: timm's dsa is ds with pw_act and noskip
    expected = stride == 1 and out == 16 and not noskip and not kind.startswith("dsa")
    assert layer.residual is expected
    block = create_block(layer)
    assert block.has_residual is expected
    # Behaviour: with the last BN zeroed the main path outputs exactly 0, so the block returns x or 0.
    bn = _last_bn(block)
    nn.init.zeros_(bn.weight)
    nn.init.zeros_(bn.bias)
    x = torch.randn(1, 16, 6, 6)
    with torch.no_grad():
        y = block.eval()(x)
    if expected:
        assert torch.equal(y, x)
    else:
        assert not y.any()


@pytest.mark.parametrize("text", ["cn_r1_k3_s1_c16", "skip_s1_c16", "shuffle_r1_k3_s1_c16_w1",
                                  "xception_r1_k3_s1_c16_w1"])
def test_types_without_additive_residual(text):
    layer = layer_of(text, 16)
    assert not layer.residual and create_block(layer).has_residual is False


def _se(block: nn.Module) -> SqueezeExcite:
    (se,) = [m for m in block.modules() if isinstance(m, SqueezeExcite)]
    return se


def test_se_in_mode_width_from_block_input_with_sigmoid_and_block_act():
    layer = layer_of("ir_r1_k3_s1_e4_c16_se0.25_nhs", 16, se="in")
    se = _se(create_block(layer))
    assert (se.reduce.in_channels, se.reduce.out_channels) == (64, 4)  # round(16 * 0.25), on the 64 mid
    assert isinstance(se.gate, nn.Sigmoid) and isinstance(se.act, nn.Hardswish)


def test_se_exp_mode_width_from_mid_with_hard_sigmoid_and_relu():
    layer = layer_of("ir_r1_k3_s1_e4_c16_se0.25_nhs", 16, se="exp")
    se = _se(create_block(layer))
    assert (se.reduce.in_channels, se.reduce.out_channels) == (64, 16)  # make_divisible(64 * 0.25, 8)
    assert isinstance(se.gate, nn.Hardsigmoid) and isinstance(se.act, nn.ReLU)


def test_se_explicit_width_and_explicit_mid():
    block = create_block(layer_of("ir_r1_k3_s1_e6_c24_m40_sec8", 16))
    assert block.conv_pw.conv.out_channels == 40 and block.conv_dw.conv.groups == 40
    assert (_se(block).reduce.in_channels, _se(block).reduce.out_channels) == (40, 8)


def test_ds_se_sits_on_block_input():
    se = _se(create_block(layer_of("ds_r1_k3_s2_e1_c24_se0.5", 16)))
    assert (se.reduce.in_channels, se.reduce.out_channels) == (16, 8)


def test_se_scales_channels_by_gate():
    se = SqueezeExcite(4, 2)
    for conv in (se.reduce, se.expand):
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    x = torch.randn(1, 4, 3, 3)
    assert torch.allclose(se(x), x * 0.5)  # sigmoid(0) = 0.5 on every channel


def test_group_conv_block_has_grouped_1x1s_and_shuffle():
    block = create_block(layer_of("ir_r1_k3_s1_e1_c16_g2", 16))
    assert isinstance(block, InvertedResidual)
    assert block.conv_pw.conv.groups == 2 and block.conv_pwl.conv.groups == 2
    assert isinstance(block.shuffle, ChannelShuffle) and block.shuffle.groups == 2
    plain = create_block(layer_of("ir_r1_k3_s1_e1_c16", 16))
    assert isinstance(plain.shuffle, nn.Identity) and plain.conv_pw.conv.groups == 1


def test_shuffle_unit_stride1_passes_first_half_through_to_even_channels():
    block = create_block(layer_of("shuffle_r1_k3_s1_c16_w1", 16)).eval()
    x = torch.randn(1, 16, 5, 5)
    with torch.no_grad():
        y = block(x)
    assert torch.equal(y[:, 0::2], x[:, :8])  # after the 2-group shuffle, even channels are the untouched half


def test_shuffle_unit_with_odd_output_is_rejected():
    # The final 2-group shuffle cannot split 17 channels: the spec is refused before anything is built or costed.
    with pytest.raises(ValueError, match="be even"):
        layer_of("shuffle_r1_k3_s2_c17_w1", 8)


def test_register_duplicate_name_raises_and_keeps_the_original():
    before = dict(BLOCKS)
    with pytest.raises(ValueError, match="'ir' is already registered"):
        register_block("ir")(type("Other", (nn.Module,), {}))
    assert BLOCKS == before


def test_register_new_name_is_used_by_create_block():
    class Doubler(nn.Module):
        @classmethod
        def from_layer(cls, layer):
            return cls()

    layer = dataclasses.replace(layer_of("cn_r1_k1_s1_c8", 8), type="test_doubler")
    try:
        assert register_block("test_doubler")(Doubler) is Doubler
        assert isinstance(create_block(layer), Doubler)
    finally:
        BLOCKS.pop("test_doubler", None)


def test_create_block_unknown_type_names_registered_ones():
    layer = dataclasses.replace(layer_of("cn_r1_k1_s1_c8", 8), type="nope")
    with pytest.raises(ValueError, match="'nope'.*registered: .*cn.*ir.*xception"):
        create_block(layer)

"""Analytic params / MACs / peak memory: equal to the built module's, hand-checked on tiny nets, strict on input."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import hwnas.cost
from hwnas.arch import decode, resolve_layers
from hwnas.cost import (
    BLOCK_COSTS, block_cost, count_macs, count_params, count_with_hooks, peak_activation_bytes, per_layer_costs,
)
from hwnas.blocks.registry import BLOCKS
from hwnas.nn import build_model

ALL_TYPES = ("act=hs se=exp | stem_k3_s2_c8 | ds_r1_k3_s1_e1_c8_se0.25 dsa_r1_k5_s2_e1_c16_nre | "
             "ir_r2_k3_s1_e3_c16_se0.25 ir_r1_k5_s2_e1_c24_g2 ir_r1_k3_s1_e6_c24_m20_sec8 skip_s1_c24 skip_s2_c32 | "
             "shuffle_r1_k3_s1_c32_w1 shuffle_r1_k7_s2_c48_w0.5 xception_r1_k3_s1_c48_w1 | cn_r1_k1_s1_c40 | "
             "head_c24_nre_nobias")
# A stem, one cn block and a head: peak memory is worked out by hand below.
TINY_CN = "act=re se=in | stem_k3_s2_c8 | cn_r1_k3_s1_c16 | head"
# A stem, one 8 -> 8 ir block (e2, so mid 16, k3, s1, SE 0.5 of the input = 4 channels) and a head.
TINY_IR_SE = "act=re se=in | stem_k3_s1_c8 | ir_r1_k3_s1_e2_c8_se0.5 | head"


def _is_bn(name: str, model: nn.Module) -> bool:
    return isinstance(model.get_submodule(name.rpartition(".")[0]), nn.BatchNorm2d)


def check_against_module(spec, size, num_classes, in_channels):
    """Every analytic count of ``spec`` equals what the built module has or does."""
    model = build_model(spec, num_classes, in_channels)
    measured = count_with_hooks(model, size, in_channels)
    assert measured["params"] == count_params(spec, num_classes, in_channels)
    assert measured["macs"] == count_macs(spec, size, num_classes, in_channels)
    no_bn = sum(p.numel() for n, p in model.named_parameters() if not _is_bn(n, model))
    assert count_params(spec, num_classes, in_channels, include_bn=False) == no_bn

    rows = per_layer_costs(spec, size, num_classes, in_channels)
    modules = [model.stem, *model.blocks, model.head]
    assert [r["label"] for r in rows] == ["stem", *(layer.label for layer in resolve_layers(spec)), "head"]
    assert sum(r["params"] for r in rows) == measured["params"]
    assert sum(r["macs"] for r in rows) == measured["macs"]
    assert max(r["peak_bytes"] for r in rows) == peak_activation_bytes(spec, size, in_channels,
                                                                      num_classes=num_classes)
    x = torch.randn(1, in_channels, size, size)
    model.eval()
    for row, module in zip(rows, modules):
        assert tuple(x.shape[1:]) == row["in_shape"], row["label"]
        sub = count_with_hooks(module, row["in_shape"][1], row["in_shape"][0])
        assert (sub["params"], sub["macs"]) == (row["params"], row["macs"]), row["label"]
        bn = sum(p.numel() for m in module.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
        assert bn == row["bn_params"], row["label"]
        with torch.no_grad():
            x = module(x)
        assert tuple(x.shape[1:]) == row["out_shape"], row["label"]
        assert row["peak_bytes"] > 0


def test_cost_models_exist_for_every_block_type():
    assert set(BLOCK_COSTS) == set(BLOCKS)
    assert {layer.type for layer in resolve_layers(decode(ALL_TYPES))} == set(BLOCKS)


@pytest.mark.parametrize("size, num_classes, in_channels", [(1, 1, 1), (7, 10, 3), (32, 5, 1), (33, 1000, 3)])
def test_all_block_types_match_module(size, num_classes, in_channels):
    check_against_module(decode(ALL_TYPES), size, num_classes, in_channels)


@st.composite
def block_text(draw, ch):
    """A valid block string after a ``ch``-wide layer (widths stay multiples of 4, so g2 and halves work)."""
    kind = draw(st.sampled_from(sorted(BLOCKS)))
    s = draw(st.sampled_from([1, 2]))
    act = draw(st.sampled_from(["", "_nre", "_nr6", "_nhs", "_nsw"]))
    if kind in ("shuffle", "xception"):
        out = ch + draw(st.sampled_from([4, 8])) if s == 2 else ch
        k = 3 if kind == "xception" else draw(st.sampled_from([3, 5, 7]))
        return f"{kind}_r1_k{k}_s{s}_c{out}_w{draw(st.sampled_from(['0.5', '1', '1.4']))}", out
    out = draw(st.sampled_from([4, 8, 12, 16, ch]))
    if kind == "skip":
        return f"skip_s{s}_c{out}{act}", out
    r, k = draw(st.integers(1, 2)), draw(st.sampled_from([1, 3, 5, 7]))
    if kind == "cn":
        return f"cn_r{r}_k{k}_s{s}_c{out}{act}", out
    text = f"{kind}_r{r}_k{k}_s{s}_e{draw(st.sampled_from(['1', '2', '2.5', '6'])) if kind == 'ir' else '1'}"
    text += f"_c{out}"
    if kind == "ir":
        text += draw(st.sampled_from(["", "_m6", "_m20"])) + draw(st.sampled_from(["", "_g2"]))
    text += act + draw(st.sampled_from(["", "_se0.25", "_se1", "_sec3"]))
    return text + draw(st.sampled_from(["", "_noskip"])), out


@st.composite
def arch_text(draw):
    """A random valid one-line network of every block type, options and head form."""
    stem_ch = draw(st.sampled_from([4, 8, 12]))
    ch, stages = stem_ch, []
    for _ in range(draw(st.integers(1, 3))):
        blocks = []
        for _ in range(draw(st.integers(1, 3))):
            text, ch = draw(block_text(ch))
            blocks.append(text)
        stages.append(" ".join(blocks))
    options = f"act={draw(st.sampled_from(['re', 'hs', 'sw']))} se={draw(st.sampled_from(['in', 'exp']))}"
    stem = f"stem_k{draw(st.sampled_from([1, 3, 5]))}_s{draw(st.sampled_from([1, 2]))}_c{stem_ch}"
    head = draw(st.sampled_from(["head", "head_c16", "head_c8_nhs_d0.2_nobias"]))
    return " | ".join([options, stem, *stages, head])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch_text(), st.integers(1, 19), st.sampled_from([1, 10]), st.sampled_from([1, 3]))
def test_random_specs_match_module(text, size, num_classes, in_channels):
    spec = decode(text)
    check_against_module(spec, size, num_classes, in_channels)
    # The input image is alive while the stem reads it, so the peak is at least stem input + output.
    stem_side = -(-size // spec.stem.stride)
    floor = (in_channels * size ** 2 + spec.stem.out * stem_side ** 2) * 4
    assert peak_activation_bytes(spec, size, in_channels, num_classes=num_classes) >= floor


# ------------------------------------------------------------------------------------------------ hand-computed
def test_ir_se_block_params_and_macs_by_hand():
    # MACs = conv + linear weights x output positions, SE convs on their 1x1 map; BN/act/pool/bias not counted.
    # 8 -> 8 block on a 4x4 map (16 positions), mid 16, SE width round(8 * 0.5) = 4:
    #   expand 1x1  8*16 = 128 w  -> 128*16 = 2048 MACs, BN 2*16 = 32
    #   dw 3x3      9*16 = 144 w  -> 144*16 = 2304 MACs, BN 32
    #   SE reduce   16*4 = 64 w + 4 bias   -> 64 MACs
    #   SE expand   4*16 = 64 w + 16 bias  -> 64 MACs
    #   project 1x1 16*8 = 128 w  -> 128*16 = 2048 MACs, BN 2*8 = 16
    block_macs, block_params, block_bn = 2048 + 2304 + 64 + 64 + 2048, 160 + 176 + 68 + 80 + 144, 80
    assert (block_macs, block_params) == (6528, 628)
    spec = decode(TINY_IR_SE)
    row = per_layer_costs(spec, 4, 10, 3)[1]
    assert (row["macs"], row["params"], row["bn_params"]) == (block_macs, block_params, block_bn)
    block = build_model(spec, 10, 3).blocks[0]
    assert count_with_hooks(block, 4, 8) == {"params": block_params, "macs": block_macs}
    # Whole net: stem 3*8*9 = 216 w (216*16 = 3456 MACs) + BN 16; head fc 8*10 = 80 w (80 MACs) + 10 bias.
    assert count_macs(spec, 4, 10, 3) == 3456 + block_macs + 80
    assert count_params(spec, 10, 3) == 232 + block_params + 90
    assert count_params(spec, 10, 3, include_bn=False) == 216 + (block_params - block_bn) + 90


def test_peak_of_tiny_cn_net_by_hand():
    # 3x16x16 input, stem s2 -> 8x8x8, cn k3 s1 -> 16x8x8, head pools to 16 and classifies to 10 (elements):
    #   stem: in 3*256 = 768 + out 8*64 = 512          -> 1280
    #   cn:   in 512 + out 16*64 = 1024                 -> 1536  (BN folded, act in place: no extra map)
    #   head: pool in 1024 + pooled 16 = 1040; fc 16 + 10 = 26 -> 1040
    spec = decode(TINY_CN)
    rows = per_layer_costs(spec, 16, 10, 3)
    assert [r["peak_bytes"] for r in rows] == [1280 * 4, 1536 * 4, 1040 * 4]
    assert peak_activation_bytes(spec, 16, 3, num_classes=10) == 1536 * 4
    assert peak_activation_bytes(spec, 16, 3, dtype_bytes=2, batch=3, num_classes=10) == 1536 * 2 * 3


@pytest.mark.parametrize("suffix, elements", [("", 640), ("_noskip", 512)])
def test_residual_input_is_held_by_hand(suffix, elements):
    # ir 8 -> 8, e2, on 4x4: x = 128, mid = 256, y = 128. Steps: expand x + mid = 384; dw held + 2 * mid =
    # 512 + held; project held + mid + y = 384 + held. A residual holds x (128) throughout: peak 640, else 512.
    spec = decode(f"act=re se=in | stem_k3_s1_c8 | ir_r1_k3_s1_e2_c8{suffix} | head")
    layer = resolve_layers(spec)[0]
    assert max(block_cost(layer, 4).live) == elements
    # num_classes=10: with the default 1000 the head's logits (8 + 1000 elements) would be the peak instead.
    assert peak_activation_bytes(spec, 4, 3, num_classes=10) == elements * 4
    assert peak_activation_bytes(spec, 4, 3) == (8 + 1000) * 4


@pytest.mark.parametrize("block, elements", [
    # ir 8 -> 8, e2 (mid 16), g2, s2 on 4x4: x 128, mid 256, dw out 64, y 32. expand x + mid = 384; the shuffle
    # copies the expanded map: 2 * 256 = 512; dw 256 + 64; project 64 + 32. Peak 512.
    ("ir_r1_k3_s2_e2_c8_g2", 512),
    # shuffle s1 8 -> 8 (mid 4) on 4x4: x 128 stays alive (its first half is a view) through the main branch
    # 4 -> 4 -> 4 (64 each): 128 + 64, 128 + 64 + 64, 128 + 64 + 64; concat x + 64 + y 128 = 320; shuffle 2 * 128.
    ("shuffle_r1_k3_s1_c8_w1", 320),
    # shuffle s2 8 -> 16 (main 8 -> 8 -> 8, mid 8) on 4x4 -> 2x2, x = 128 waits for the main branch:
    # projection dw: held x 128 + its input x 128 + out 32 = 288; projection 1x1: 128 + 32 + 32 = 192;
    # main 1x1: proj_out 32 + x 128 + 128 = 288; main dw 32 + 128 + 32; main 1x1 32 + 32 + 32; concat 32 + 32 + 64.
    ("shuffle_r1_k3_s2_c16_w1", 288),
])
def test_block_peak_by_hand(block, elements):
    layer = resolve_layers(decode(f"act=re se=in | stem_k3_s1_c8 | {block} | head"))[0]
    assert max(block_cost(layer, 4).live) == elements


def test_peak_scales_with_dtype_and_batch_and_grows_with_input():
    spec = decode(ALL_TYPES)
    base = peak_activation_bytes(spec, 32)
    assert base > 0
    assert peak_activation_bytes(spec, 32, dtype_bytes=2) * 2 == base
    assert peak_activation_bytes(spec, 32, dtype_bytes=1, batch=8) == 2 * base
    assert base < peak_activation_bytes(spec, 64) < peak_activation_bytes(spec, 128)


# --------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [0, -1, -224, 2.5, True, "224", None])
def test_bad_input_size_raises(bad):
    spec = decode(TINY_CN)
    for call in (lambda: count_macs(spec, bad), lambda: peak_activation_bytes(spec, bad),
                 lambda: per_layer_costs(spec, bad), lambda: count_with_hooks(build_model(spec, 10), bad)):
        with pytest.raises(ValueError, match="input size"):
            call()


@pytest.mark.parametrize("name", ["num_classes", "in_channels", "dtype_bytes", "batch"])
@pytest.mark.parametrize("bad", [0, -2, 1.5, False])
def test_bad_counts_raise(name, bad):
    spec = decode(TINY_CN)
    with pytest.raises(ValueError, match=name):
        per_layer_costs(spec, 16, **{name: bad})
    with pytest.raises(ValueError, match=name):
        peak_activation_bytes(spec, 16, **{name: bad})
    if name in ("num_classes", "in_channels"):
        with pytest.raises(ValueError, match=name):
            count_params(spec, **{name: bad})
        with pytest.raises(ValueError, match=name):
            count_macs(spec, 16, **{name: bad})


def test_block_cost_unknown_type_raises():
    layer = resolve_layers(decode(TINY_CN))[0]
    with pytest.raises(ValueError, match="no cost model for block type 'nope'"):
        block_cost(layer.__class__(**{**layer.__dict__, "type": "nope"}), 8)


# ------------------------------------------------------------------------------------------------------- hooks
def test_count_with_hooks_leaves_model_as_it_was():
    model = build_model(decode(ALL_TYPES), 10).train()
    bn = model.stem.bn
    stats = bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)
    count_with_hooks(model, 16)
    assert model.training and all(m.training for m in model.modules())
    assert torch.equal(bn.running_mean, stats[0]) and torch.equal(bn.running_var, stats[1])
    assert int(bn.num_batches_tracked) == stats[2]  # ran in eval mode
    assert not any(m._forward_hooks for m in model.modules())
    model.eval()
    count_with_hooks(model, 16)
    assert not model.training


def test_count_with_hooks_counts_linear_per_sample_and_is_lazy_export():
    assert count_with_hooks(nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), 2, 3) == {"params": 65, "macs": 60}
    assert hwnas.cost.count_with_hooks is count_with_hooks
    with pytest.raises(AttributeError):
        hwnas.cost.no_such_name  # noqa: B018

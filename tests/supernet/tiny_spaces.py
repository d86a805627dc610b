"""Helpers for the supernet tests, and tiny spaces built straight from the SearchSpace contract.

The spaces cover every supernet feature: elastic ir mid widths with SE in both conventions (ratio and explicit
width), FBNet g2 candidates, skip (identity and projection), SPOS shuffle/xception with float scales, optional
slots with depth (min depth 0 and 1), prefix and suffix stages, a head conv.
"""

from __future__ import annotations

import torch
from torch import nn

from hwnas.arch import HeadSpec, StemSpec, decode_block
from hwnas.space import SearchSpace, Slot, SpaceGeometry
from hwnas.supernet import Supernet


def _slot(stage: int, index: int, in_ch: int, out: int, stride: int, candidates: dict[str, str],
          widths: tuple | None = None, optional: bool = False) -> Slot:
    return Slot(label=f"s{stage}_b{index}", stage=stage, index=index, in_ch=in_ch, out_ch=out, stride=stride,
                candidates={name: decode_block(text) for name, text in candidates.items()}, widths=widths,
                optional=optional)


def ir_space(se_mode: str = "in", in_channels: int = 3) -> SearchSpace:
    """ir blocks with elastic mids (SE ratio, explicit SE width, g2), skip, ds, depth stages (min 1 and 0)."""
    first = {"k3_se": "ir_r1_k3_s2_e1_c16_m24_se0.25", "k5": "ir_r1_k5_s2_e1_c16_m24",
             "k3_g2": "ir_r1_k3_s2_e1_c16_m24_g2", "k3_sec": "ir_r1_k3_s2_e1_c16_m24_sec6"}
    repeat = {"skip": "skip_r1_s1_c16", "k3_e2_se": "ir_r1_k3_s1_e1_c16_m32_se0.5",
              "k5_g2": "ir_r1_k5_s1_e1_c16_m32_g2"}
    down = {"skip": "skip_r1_s2_c24", "ds": "ds_r1_k3_s2_c24", "k3": "ir_r1_k3_s2_e3_c24_se0.25"}
    tail = {"k3": "ir_r1_k3_s1_e1_c24_m48_se0.25", "k5": "ir_r1_k5_s1_e1_c24_m48"}
    stages = (
        (_slot(0, 0, 8, 16, 2, first, (8, 16, 24)),
         _slot(0, 1, 16, 16, 1, repeat, (16, 24, 32), optional=True),
         _slot(0, 2, 16, 16, 1, repeat, (16, 24, 32), optional=True)),
        (_slot(1, 0, 16, 24, 2, down),),
        (_slot(2, 0, 24, 24, 1, tail, (8, 24, 48), optional=True),
         _slot(2, 1, 24, 24, 1, tail, (8, 24, 48), optional=True)),
    )
    return SearchSpace(
        name=f"tiny_ir_{se_mode}", geometry=SpaceGeometry(32, in_channels, 5), stem=StemSpec(out=8),
        slots_by_stage=stages, head=HeadSpec(features=40, act="hs"), act="hs" if se_mode == "exp" else "re",
        se_mode=se_mode, prefix=((decode_block("ds_r1_k3_s1_c8"),),),
        suffix=((decode_block("cn_r1_k1_s1_c32"),),), min_depth={0: 1, 2: 0})


def shuffle_space(in_channels: int = 1) -> SearchSpace:
    """SPOS shuffle/xception candidates with float channel scales, a cn suffix, a dropout head without bias."""
    scales = (0.2, 0.6, 1.0, 1.4, 2.0)

    def ops(stride: int, out: int) -> dict[str, str]:
        return {f"shuffle{k}": f"shuffle_r1_k{k}_s{stride}_c{out}_w2" for k in (3, 5, 7)} | {
            "xception": f"xception_r1_k3_s{stride}_c{out}_w2"}

    stages = (
        (_slot(0, 0, 16, 32, 2, ops(2, 32), scales), _slot(0, 1, 32, 32, 1, ops(1, 32), scales)),
        (_slot(1, 0, 32, 48, 2, ops(2, 48), scales), _slot(1, 1, 48, 48, 1, ops(1, 48), scales)),
    )
    return SearchSpace(
        name="tiny_shuffle", geometry=SpaceGeometry(32, in_channels, 5), stem=StemSpec(out=16),
        slots_by_stage=stages, head=HeadSpec(dropout=0.1, fc_bias=False), act="re", se_mode="in",
        suffix=((decode_block("cn_r1_k1_s1_c64"),),))


TINY_SPACES = {"ir_in": lambda: ir_space("in"), "ir_exp": lambda: ir_space("exp", in_channels=1),
               "shuffle": shuffle_space}


def perturb(net: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN random affine parameters and running statistics, so that a wrong channel slice shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(1 + 0.2 * torch.randn(n, generator=gen))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
    return net


def narrowed(net: Supernet) -> int:
    """How many blocks of the active path run channel-sliced (narrower than their supernet block)."""
    return sum(layer is not None for _, _, layer in net._path)

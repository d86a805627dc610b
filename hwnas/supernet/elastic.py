"""Elastic widths by channel slicing: run a block built at its largest width as if it were narrower.

A supernet candidate is one of the builder's own blocks (:mod:`hwnas.nn.blocks`) at the largest width its slot
allows. A narrower child of it uses the *leading* channels of every weight and BatchNorm tensor (the rule of
:func:`copy_leading`, as in SPOS channel search, Guo et al. 2019, and Once-for-All, Cai et al. 2020; TF-NAS keeps
the channels of largest L1 norm instead, which a search method can emulate by permuting channels first). The
functions here compute exactly what the narrower block computes, with ``F.conv2d`` and ``F.batch_norm`` on sliced
views of the shared tensors, so a single path costs what the child costs and gradients flow into the shared
leading channels.

Which widths a narrower block has comes from a resolved :class:`~hwnas.arch.Layer` (the one place widths are
derived); nothing here derives a width.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.arch.resolve import Layer
from hwnas.nn import global_bn
from hwnas.nn.blocks import InvertedResidual, ShuffleUnit
from hwnas.nn.layers import ConvBnAct, SqueezeExcite


def copy_leading(src: nn.Module, dst: nn.Module) -> None:
    """Copy every parameter and buffer of ``src`` into ``dst``: each ``dst`` tensor gets the leading slice
    ``src[:n0, :n1, ...]`` of the same-named ``src`` tensor (BN running stats and ``num_batches_tracked`` too).

    ``src`` and ``dst`` must have the same state-dict keys (same block class); ``dst`` is never wider.
    """
    src_state = src.state_dict()
    dst_state = dst.state_dict()
    assert src_state.keys() == dst_state.keys(), (sorted(src_state), sorted(dst_state))
    with torch.no_grad():
        for key, target in dst_state.items():
            source = src_state[key]
            if target.dim() != source.dim() or any(t > s for t, s in zip(target.shape, source.shape)):
                raise ValueError(f"{key}: cannot take a {tuple(target.shape)} slice of {tuple(source.shape)}")
            target.copy_(source[tuple(slice(0, n) for n in target.shape)])


def batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``bn`` on the first ``x.shape[1]`` channels, with ``nn.BatchNorm2d``'s own momentum rules.

    In training mode the sliced running statistics are views of ``bn``'s buffers, so ``F.batch_norm`` updates the
    shared leading channels in place; ``momentum=None`` gives the cumulative average used to recalibrate BN.
    """
    channels = x.shape[1]
    if channels == bn.num_features:
        return bn(x)
    factor = 0.0
    if bn.training:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    return global_bn.batch_norm(x, bn.running_mean[:channels], bn.running_var[:channels], bn.weight[:channels],
                                bn.bias[:channels], bn.training, factor, bn.eps, getattr(bn, "sync_world", None))


def _is_depthwise(conv: nn.Conv2d) -> bool:
    return conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels


def conv_bn_act(block: ConvBnAct, x: torch.Tensor, out_ch: int | None = None) -> torch.Tensor:
    """``block`` (conv-BN-act) reading ``x.shape[1]`` input channels and writing ``out_ch`` (default: all).

    A depthwise conv follows its input width (one filter per channel); other convs keep their groups, so a
    grouped 1x1 (FBNet ``g2``) slices ``weight[:out, :in / g]`` exactly as :func:`copy_leading` does.
    """
    conv = block.conv
    in_ch = x.shape[1]
    if _is_depthwise(conv):
        groups, out_ch = in_ch, in_ch
    else:
        groups, out_ch = conv.groups, out_ch or conv.out_channels
    if in_ch == conv.in_channels and out_ch == conv.out_channels:
        return block(x)
    weight = conv.weight[:out_ch, : in_ch // groups]
    y = F.conv2d(x, weight, None, conv.stride, conv.padding, conv.dilation, groups)
    return block.act(batch_norm(block.bn, y))


def squeeze_excite(se: SqueezeExcite, x: torch.Tensor, se_ch: int) -> torch.Tensor:
    """Squeeze-excite (Hu et al. 2018) on ``x.shape[1]`` channels with ``se_ch`` reduced channels."""
    channels = x.shape[1]
    if channels == se.reduce.in_channels and se_ch == se.reduce.out_channels:
        return se(x)
    s = F.conv2d(se.pool(x), se.reduce.weight[:se_ch, :channels], se.reduce.bias[:se_ch])
    s = F.conv2d(se.act(s), se.expand.weight[:channels, :se_ch], se.expand.bias[:channels])
    return x * se.gate(s)


def inverted_residual(block: InvertedResidual, x: torch.Tensor, layer: Layer) -> torch.Tensor:
    """An ``ir`` block with mid width ``layer.mid`` and SE width ``layer.se_ch`` (TF-NAS elastic widths,
    Hu et al. 2020): same op order as :class:`~hwnas.nn.blocks.InvertedResidual`."""
    h = conv_bn_act(block.conv_pw, x, layer.mid)
    h = conv_bn_act(block.conv_dw, block.shuffle(h))
    if layer.se_ch:
        h = squeeze_excite(block.se, h, layer.se_ch)
    out = conv_bn_act(block.conv_pwl, h)
    return out + x if block.has_residual else out


def shuffle_unit(block: ShuffleUnit, x: torch.Tensor, layer: Layer) -> torch.Tensor:
    """A SPOS ``shuffle``/``xception`` unit with main-branch mid width ``layer.mid`` (channel search, Guo et al.
    2019). Every non-depthwise conv of the main branch but the last writes ``mid`` channels; depthwise
    convs follow their input; the last writes the fixed branch output."""
    h = block.main_input(x)
    last = len(block.main) - 1
    for i, conv in enumerate(block.main):
        h = conv_bn_act(conv, h, None if i == last else layer.mid)
    return block.shuffle(torch.cat([block.proj(x), h], dim=1))


ELASTIC_FORWARDS: dict[type[nn.Module], Callable[[nn.Module, torch.Tensor, Layer], torch.Tensor]] = {
    InvertedResidual: inverted_residual,
    ShuffleUnit: shuffle_unit,
}
"""Block class -> sliced forward. Looked up with ``isinstance`` so subclasses (shuffle, xception) share one."""


def elastic_forward_for(block: nn.Module) -> Callable[[nn.Module, torch.Tensor, Layer], torch.Tensor] | None:
    """The sliced forward for ``block``'s class, or ``None`` if its widths cannot be narrowed."""
    for cls, fn in ELASTIC_FORWARDS.items():
        if isinstance(block, cls):
            return fn
    return None

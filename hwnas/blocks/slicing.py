"""Elastic widths by channel slicing: run a block built at its largest width as if it were narrower.

A supernet candidate is one of the builder's own blocks (:mod:`hwnas.blocks`) at the largest width its slot
allows. A narrower child of it uses the *leading* channels of every weight and BatchNorm tensor (the rule of
:func:`copy_leading`, as in SPOS channel search, Guo et al. 2019, and Once-for-All, Cai et al. 2020; TF-NAS keeps
the channels of largest L1 norm instead, which a search method can emulate by permuting channels first). The
functions here compute exactly what the narrower block computes, with ``F.conv2d`` and ``F.batch_norm`` on sliced
views of the shared tensors, so a single path costs what the child costs and gradients flow into the shared
leading channels.

These are the shared pieces (conv-BN-act, squeeze-excite, BatchNorm on leading channels); each block type with an
elastic width composes them into its own sliced forward (:meth:`hwnas.blocks.base.BlockType.elastic_forward`).
Which widths a narrower block has comes from a resolved :class:`~hwnas.arch.Layer` (the one place widths are
derived); nothing here derives a width.

In an entangled supernet (:mod:`hwnas.supernet`) the candidates of a slot that differ only in kernel, expansion or
squeeze-excite share one such block: a smaller kernel is the *centre* of the largest one (Once-for-All, Cai et al.
2020, Sec. 3.2), optionally through learned kernel transforms (:func:`centre_kernel`); :func:`copy_sliced` is the
extraction rule of that mode.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.nn import global_bn
from hwnas.nn.layers import ConvBnAct, SqueezeExcite, conv2d


KernelTransforms = Mapping[int, torch.Tensor]
"""Kernel size ``k`` -> a ``(k*k, k*k)`` matrix applied to a centred k x k kernel (Once-for-All's kernel
transformation matrices, Cai et al. 2020, Sec. 3.2 "elastic kernel size")."""


def copy_leading(src: nn.Module, dst: nn.Module) -> None:
    """Copy every parameter and buffer of ``src`` into ``dst``: each ``dst`` tensor gets the leading slice
    ``src[:n0, :n1, ...]`` of the same-named ``src`` tensor (BN running stats and ``num_batches_tracked`` too).

    ``src`` and ``dst`` must have the same state-dict keys (same block class); ``dst`` is never wider.
    """
    assert src.state_dict().keys() == dst.state_dict().keys(), (sorted(src.state_dict()), sorted(dst.state_dict()))
    copy_sliced(src, dst)


def copy_sliced(src: nn.Module, dst: nn.Module, kernels: Mapping[str, KernelTransforms] | None = None) -> None:
    """Copy ``src`` into the smaller ``dst`` by the slicing rule of an entangled supernet (Once-for-All, Cai et
    al. 2020, Sec. 3.2): channel dimensions take their *leading* slice, the spatial dimensions of a conv weight
    their *centre* (a k x k kernel is the centre of the largest one). ``dst``'s keys must be a subset of ``src``'s
    (a candidate without squeeze-excite drops the shared SE). ``kernels`` maps a weight's key to the per-size
    kernel transforms applied on the way down (:func:`centre_kernel`)."""
    src_state = src.state_dict()
    dst_state = dst.state_dict()
    missing = sorted(set(dst_state) - set(src_state))
    if missing:
        raise ValueError(f"cannot copy into keys the source lacks: {missing}")
    with torch.no_grad():
        for key, target in dst_state.items():
            source = src_state[key]
            if target.dim() != source.dim() or any(t > s for t, s in zip(target.shape, source.shape)):
                raise ValueError(f"{key}: cannot take a {tuple(target.shape)} slice of {tuple(source.shape)}")
            if target.dim() == 4 and target.shape[2:] != source.shape[2:]:
                source = centre_kernel(source, target.shape[-1], (kernels or {}).get(key))
            target.copy_(source[tuple(slice(0, n) for n in target.shape)])


def centre_kernel(weight: torch.Tensor, kernel: int, transforms: KernelTransforms | None = None) -> torch.Tensor:
    """The centre ``kernel`` x ``kernel`` of a conv ``weight`` (``out, in, K, K``), as a smaller candidate of an
    entangled slot sees it.

    With ``transforms``, Once-for-All's elastic kernel (Cai et al. 2020, Sec. 3.2): shrinking goes through every
    transformed size between K and ``kernel`` in turn (7 -> 5 -> 3), and at each size ``s`` the centred kernel is
    multiplied by ``transforms[s]`` (one ``s*s x s*s`` matrix per layer and size, shared by all channels,
    identity at start), so a small kernel is not forced to equal the centre of the large one.
    """
    size = weight.shape[-1]
    if kernel > size or (size - kernel) % 2:
        raise ValueError(f"cannot take a centred {kernel}x{kernel} kernel from a {size}x{size} one")
    steps = sorted((s for s in (transforms or {}) if kernel <= s < size), reverse=True)
    if not steps or steps[-1] != kernel:
        steps.append(kernel)
    for s in steps:
        start = (weight.shape[-1] - s) // 2
        weight = weight[..., start:start + s, start:start + s]
        if transforms is not None and s in transforms:
            shape = weight.shape
            weight = (weight.reshape(-1, s * s) @ transforms[s]).reshape(shape)
    return weight


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


def conv_bn_act(block: ConvBnAct, x: torch.Tensor, out_ch: int | None = None, kernel: int | None = None,
                transforms: KernelTransforms | None = None) -> torch.Tensor:
    """``block`` (conv-BN-act) reading ``x.shape[1]`` input channels and writing ``out_ch`` (default: all), with a
    ``kernel`` x ``kernel`` centre of its kernel (default: all of it; :func:`centre_kernel`, ``transforms``).

    A depthwise conv follows its input width (one filter per channel); other convs keep their groups, so a
    grouped 1x1 (FBNet ``g2``) slices ``weight[:out, :in / g]`` exactly as :func:`copy_leading` does.
    """
    conv = block.conv
    in_ch = x.shape[1]
    if _is_depthwise(conv):
        groups, out_ch = in_ch, in_ch
    else:
        groups, out_ch = conv.groups, out_ch or conv.out_channels
    full_kernel = conv.kernel_size[0]
    kernel = kernel or full_kernel
    if in_ch == conv.in_channels and out_ch == conv.out_channels and kernel == full_kernel:
        return block(x)
    weight = conv.weight[:out_ch, : in_ch // groups]
    padding = conv.padding
    if kernel != full_kernel:
        weight, padding = centre_kernel(weight, kernel, transforms), kernel // 2  # 'same' padding of the child
    y = conv2d(x, weight, None, conv.stride, padding, conv.dilation, groups)  # hwnas.nn.layers: a torch crash
    return block.act(batch_norm(block.bn, y))


def squeeze_excite(se: SqueezeExcite, x: torch.Tensor, se_ch: int) -> torch.Tensor:
    """Squeeze-excite (Hu et al. 2018) on ``x.shape[1]`` channels with ``se_ch`` reduced channels."""
    channels = x.shape[1]
    if channels == se.reduce.in_channels and se_ch == se.reduce.out_channels:
        return se(x)
    s = F.conv2d(se.pool(x), se.reduce.weight[:se_ch, :channels], se.reduce.bias[:se_ch])
    s = F.conv2d(se.act(s), se.expand.weight[:channels, :se_ch], se.expand.bias[:channels])
    return x * se.gate(s)

"""Small layers shared by every block: activation and gate factories, conv-BN-act, squeeze-excite, channel shuffle.

Activations are named as in the arch grammar (:data:`hwnas.arch.ACTIVATIONS`): ``re`` ReLU, ``r6`` ReLU6,
``hs`` hard-swish (Howard et al. 2019), ``sw`` swish/SiLU. SE gates are ``sigmoid`` (Hu et al. 2018) or
``hard_sigmoid`` (MobileNetV3, Howard et al. 2019; torch's ``Hardsigmoid`` = relu6(x + 3) / 6).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.nn.global_bn import BatchNorm2d

ACT_LAYERS: dict[str, type[nn.Module]] = {
    "re": nn.ReLU,
    "r6": nn.ReLU6,
    "hs": nn.Hardswish,
    "sw": nn.SiLU,
}
GATE_LAYERS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "hard_sigmoid": nn.Hardsigmoid,
}


def create_act(name: str | None) -> nn.Module:
    """The activation called ``name``; ``None`` means no activation (identity).

    Activations run in place: each follows a BatchNorm (or a biased conv) whose output nobody else reads, so
    overwriting it is safe and saves one feature map of memory.
    """
    if name is None:
        return nn.Identity()
    if name not in ACT_LAYERS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACT_LAYERS)} (or None for identity)")
    return ACT_LAYERS[name](inplace=True)


def create_gate(name: str) -> nn.Module:
    """The squeeze-excite gate called ``name`` (``sigmoid`` or ``hard_sigmoid``)."""
    if name not in GATE_LAYERS:
        raise ValueError(f"unknown SE gate {name!r}; valid: {', '.join(GATE_LAYERS)}")
    return GATE_LAYERS[name]()


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` equal groups (ShuffleNet, Zhang et al. 2018; Ma et al. 2018).

    Channel ``g * (C // groups) + i`` moves to position ``i * groups + g``: the (groups, C/groups) channel grid is
    transposed, so the next grouped conv sees channels from every group of the previous one.
    """
    batch, channels, height, width = x.shape
    # Under torch.jit.trace the shape entries are traced values: a Python ``if`` on them emits a TracerWarning and
    # freezes the branch into the graph. So the check runs only eagerly; :class:`ChannelShuffle` (what the blocks
    # use) validates its channel count once, at construction, and a traced graph never re-checks it.
    if not torch.jit.is_tracing() and channels % groups:
        raise ValueError(f"channel shuffle needs channels ({channels}) divisible by groups ({groups})")
    if not torch.jit.is_tracing() and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        # An NHWC batch (channels_last training, hwnas.train.layout) stays NHWC: the same single copy, along the
        # innermost axis. The NCHW route below would hand the next conv an NCHW tensor to reorder back.
        nhwc = x.permute(0, 2, 3, 1).reshape(batch, height, width, groups, channels // groups)
        return nhwc.transpose(3, 4).reshape(batch, height, width, channels).permute(0, 3, 1, 2)
    x = x.view(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).reshape(batch, channels, height, width)


def shuffle_order(channels: int, groups: int) -> torch.Tensor:
    """The source channel of every output channel of :func:`channel_shuffle`: output ``i * groups + g`` reads input
    ``g * (channels // groups) + i``."""
    return torch.arange(channels).view(groups, channels // groups).t().reshape(-1)


class ChannelShuffle(nn.Module):
    """:func:`channel_shuffle` as a module, so that it shows up in a printed network and in exported graphs.

    ``channels``, when given, is checked against ``groups`` here, at build time, so that a bad width fails when the
    network is made rather than in the middle of a forward pass (or silently in a traced one). It also fixes the
    permutation, which an exported graph then applies as one ``Gather`` of constant channel indices: the reshape
    route of :func:`channel_shuffle` makes an export with a symbolic batch axis compute its reshape targets at
    run time (``Shape``, ``Gather``, ``Div``, ``Unsqueeze``, ``Concat``: 22 executed nodes in ONNX Runtime where a
    static graph has 8), which the latency table, timed on static graphs, does not contain
    (docs/BENCHMARKS.md, issue 20).
    """

    def __init__(self, groups: int, channels: int | None = None) -> None:
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"channel shuffle groups must be a positive integer, got {groups!r}")
        if channels is not None and channels % groups:
            raise ValueError(f"channel shuffle needs channels ({channels}) divisible by groups ({groups})")
        self.groups = groups
        # Not persistent: checkpoints stay as they were, and the order follows from groups and channels anyway.
        self.register_buffer("order", shuffle_order(channels, groups) if channels is not None else None,
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only traced (exported): eager training keeps the reshape route, whose backward is a plain copy where
        # index_select's is a scatter-add.
        if self.order is not None and torch.jit.is_tracing():
            return x.index_select(1, self.order)
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: Any, padding: Any,
           dilation: Any, groups: int) -> torch.Tensor:
    """``F.conv2d``, except that a strided 1x1 convolution with autograd on the CPU runs as a subsample of the
    input followed by a stride-1 1x1 convolution: the same numbers (a 1x1 kernel with no padding reads exactly the
    pixels the stride keeps), through another kernel.

    Why: torch 2.13's parallel CPU backward of a strided 1x1 convolution with few channels (4-8 in, as the FBNet
    space's skip projections have at width 0.5) in channels_last aborts the whole process (a segmentation fault,
    ``free(): invalid next size`` or ``double free or corruption``) on an odd number of rows: measured for 3, 81
    and 127 rows with 2 threads, never with one. Odd row counts are common: a split's last batch, and the random
    per-candidate pieces of a per-sample supernet forward (HardCoRe-NAS's multipath step). Inference, tracing and
    export keep the plain strided convolution, so the deployed graph is unchanged.
    """
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    # tracing and export first: a traced shape compared with a tuple would be recorded as a constant
    if (torch.is_grad_enabled() and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export()
            and stride != (1, 1) and x.device.type == "cpu" and x.dim() == 4 and tuple(weight.shape[-2:]) == (1, 1)
            and padding in (0, (0, 0), "valid")):
        return F.conv2d(x[:, :, :: stride[0], :: stride[1]], weight, bias, 1, 0, 1, groups)
    return F.conv2d(x, weight, bias, stride, padding, dilation, groups)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` whose forward goes through :func:`conv2d` (the same parameters, state dict and hooks)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.padding_mode != "zeros":
            return super()._conv_forward(x, weight, bias)
        return conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


class ConvBnAct(nn.Module):
    """k x k conv (no bias, 'same' padding k // 2) -> BatchNorm -> activation (``act=None``: none).

    The conv has no bias because the BatchNorm that follows has its own shift.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        act: str | None = "re",
    ) -> None:
        super().__init__()
        self.conv = Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False)
        self.bn = BatchNorm2d(out_ch)  # nn.BatchNorm2d that can use global-batch statistics (data-parallel)
        self.act = create_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def depthwise(channels: int, kernel: int, stride: int = 1, act: str | None = None) -> ConvBnAct:
    """A depthwise k x k conv-BN(-act): one filter per channel (MobileNet, Howard et al. 2017)."""
    return ConvBnAct(channels, channels, kernel, stride, groups=channels, act=act)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): x * gate(W2 act(W1 avgpool(x) + b1) + b2).

    Both 1x1 convs have a bias and no BatchNorm, as in the SE paper, MnasNet, MobileNetV3 and TF-NAS.
    """

    def __init__(
        self,
        channels: int,
        se_channels: int,
        act: str = "re",
        gate: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, se_channels, 1, bias=True)
        self.act = create_act(act)
        self.expand = nn.Conv2d(se_channels, channels, 1, bias=True)
        self.gate = create_gate(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * scale


def se_or_identity(channels: int, se_channels: int, act: str, gate: str) -> nn.Module:
    """A :class:`SqueezeExcite` with ``se_channels`` reduced channels, or an identity when that is 0 (no SE)."""
    return SqueezeExcite(channels, se_channels, act, gate) if se_channels > 0 else nn.Identity()

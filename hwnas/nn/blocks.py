"""The block registry and one class per block type of the arch grammar.

Every block is built from a resolved :class:`~hwnas.arch.Layer` (``Block.from_layer``), which already holds
every width, the stride of this repeat, the activation, the SE width/act/gate and the residual flag. Blocks never
derive a width or decide a residual themselves: :mod:`hwnas.arch.resolve` is the one place that does.

Register a new type with ``@register_block("name")``; :func:`create_block` looks it up, so there is no dispatch on
type names anywhere else.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import torch
from torch import nn

from hwnas.arch.resolve import Layer
from hwnas.nn.layers import ChannelShuffle, ConvBnAct, SqueezeExcite, depthwise

BLOCKS: dict[str, type[nn.Module]] = {}
"""Block type name (as in :data:`hwnas.arch.BLOCK_TYPES`) -> block class with a ``from_layer`` constructor."""

_B = TypeVar("_B", bound=type[nn.Module])


def register_block(name: str) -> Callable[[_B], _B]:
    """Class decorator: make ``cls`` the block built for type ``name``."""

    def add(cls: _B) -> _B:
        if name in BLOCKS:
            raise ValueError(f"block type {name!r} is already registered to {BLOCKS[name].__name__}")
        BLOCKS[name] = cls
        return cls

    return add


def create_block(layer: Layer) -> nn.Module:
    """The module for one resolved layer."""
    if layer.type not in BLOCKS:
        raise ValueError(f"no block registered for type {layer.type!r}; registered: {', '.join(sorted(BLOCKS))}")
    return BLOCKS[layer.type].from_layer(layer)  # type: ignore[attr-defined]


def _se_or_identity(channels: int, se_ch: int, act: str, gate: str) -> nn.Module:
    return SqueezeExcite(channels, se_ch, act, gate) if se_ch > 0 else nn.Identity()


@register_block("ir")
class InvertedResidual(nn.Module):
    """Inverted residual / MBConv (MobileNetV2, Sandler et al. 2018) with FBNet group convs and optional SE.

    1x1 expand (groups g) BN act -> [channel shuffle g] -> k x k depthwise (stride) BN act -> [SE on mid]
    -> 1x1 project (groups g) BN -> [+ input]. The expansion conv exists even when mid == in, as in FBNet
    (Wu et al. 2019, Table 2, "pw-always") and timm's ``ir``; a block without it is a ``ds`` block.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        mid_ch: int,
        kernel: int = 3,
        stride: int = 1,
        groups: int = 1,
        se_ch: int = 0,
        act: str = "re",
        se_act: str = "re",
        se_gate: str = "sigmoid",
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.has_residual = residual
        self.conv_pw = ConvBnAct(in_ch, mid_ch, 1, groups=groups, act=act)
        # FBNet shuffles after the grouped expansion so the grouped projection mixes both groups.
        self.shuffle = ChannelShuffle(groups, mid_ch) if groups > 1 else nn.Identity()
        self.conv_dw = depthwise(mid_ch, kernel, stride, act=act)
        self.se = _se_or_identity(mid_ch, se_ch, se_act, se_gate)
        self.conv_pwl = ConvBnAct(mid_ch, out_ch, 1, groups=groups, act=None)  # linear bottleneck: no act

    @classmethod
    def from_layer(cls, layer: Layer) -> InvertedResidual:
        return cls(layer.in_ch, layer.out_ch, layer.mid, layer.kernel, layer.stride, layer.groups, layer.se_ch,
                   layer.act, layer.se_act, layer.se_gate, layer.residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pwl(self.se(self.conv_dw(self.shuffle(self.conv_pw(x)))))
        return out + x if self.has_residual else out


@register_block("ds")
class DepthwiseSeparable(nn.Module):
    """Depthwise-separable conv (MobileNet; the first block of MobileNetV2/V3 and MnasNet).

    k x k depthwise (stride) BN act -> [SE on in] -> 1x1 pointwise BN [act if ``pw_act``] -> [+ input].
    """

    pw_act = False  # ``dsa`` (timm's DepthwiseSeparable with pw_act) sets this

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        se_ch: int = 0,
        act: str = "re",
        se_act: str = "re",
        se_gate: str = "sigmoid",
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.has_residual = residual
        self.conv_dw = depthwise(in_ch, kernel, stride, act=act)
        self.se = _se_or_identity(in_ch, se_ch, se_act, se_gate)
        self.conv_pw = ConvBnAct(in_ch, out_ch, 1, act=act if self.pw_act else None)

    @classmethod
    def from_layer(cls, layer: Layer) -> DepthwiseSeparable:
        return cls(layer.in_ch, layer.out_ch, layer.kernel, layer.stride, layer.se_ch, layer.act, layer.se_act,
                   layer.se_gate, layer.residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pw(self.se(self.conv_dw(x)))
        return out + x if self.has_residual else out


@register_block("dsa")
class DepthwiseSeparableAct(DepthwiseSeparable):
    """:class:`DepthwiseSeparable` with an activation after the pointwise BN (before any residual add)."""

    pw_act = True


@register_block("cn")
class ConvBlock(ConvBnAct):
    """A plain k x k conv-BN-act (the MobileNet/FBNet pre-pool 1x1 head conv is written as one)."""

    has_residual = False

    @classmethod
    def from_layer(cls, layer: Layer) -> ConvBlock:
        return cls(layer.in_ch, layer.out_ch, layer.kernel, layer.stride, act=layer.act)


@register_block("skip")
class Skip(nn.Module):
    """The FBNet "skip" candidate (Wu et al. 2019, Table 2): identity, or 1x1 conv (stride) BN act on a shape change."""

    has_residual = False

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int = 1,
        act: str = "re",
    ) -> None:
        super().__init__()
        same_shape = stride == 1 and in_ch == out_ch
        self.proj = nn.Identity() if same_shape else ConvBnAct(in_ch, out_ch, 1, stride, act=act)

    @classmethod
    def from_layer(cls, layer: Layer) -> Skip:
        return cls(layer.in_ch, layer.out_ch, layer.stride, layer.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class _Half(nn.Module):
    """Take the first (``index=0``) or second (``index=1``) half of the channels: the ShuffleNetV2 channel split."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.chunk(2, dim=1)[self.index]

    def extra_repr(self) -> str:
        return f"index={self.index}"


class ShuffleUnit(nn.Module):
    """The ShuffleNetV2 unit around a main branch (Ma et al. 2018, Fig. 3c/d), as used by SPOS (Guo et al. 2019).

    Stride 1: split the channels in halves; the first passes through, the second goes through ``main``.
    Stride 2: the projection branch (k x k dw s2 BN -> 1x1 BN ReLU) and ``main`` both see every channel.
    Either way: concat(pass-or-projection, main), then channel shuffle with 2 groups, so that even output channels
    are the pass/projection half and odd ones the main half. (SPOS's code does the same shuffle at the start of
    the next unit instead; the two orders differ only by a fixed channel permutation of the final output.)
    Subclasses build ``main``; its activations are always ReLU, as in SPOS.
    """

    has_residual = False  # the identity half is a concat, not an add

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        proj_kernel: int,
        main: nn.Module,
    ) -> None:
        super().__init__()
        if stride == 1:
            self.proj: nn.Module = _Half(0)
            self.main_input: nn.Module = _Half(1)
        else:
            self.proj = nn.Sequential(depthwise(in_ch, proj_kernel, stride), ConvBnAct(in_ch, in_ch, 1, act="re"))
            self.main_input = nn.Identity()
        self.main = main
        # Built with the output width so that an odd one (e.g. a stride-2 unit 8 -> 17, which resolve_layers lets
        # through) is rejected when the network is built, not on the first forward pass.
        self.shuffle = ChannelShuffle(2, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(torch.cat([self.proj(x), self.main(self.main_input(x))], dim=1))


def _main_widths(layer_in: int, out_ch: int, stride: int) -> tuple[int, int]:
    """(input, output) channels of a ShuffleNetV2 main branch: half the input at stride 1, all of it at stride 2."""
    main_in = layer_in // 2 if stride == 1 else layer_in
    return main_in, out_ch - main_in


@register_block("shuffle")
class ShuffleBlock(ShuffleUnit):
    """SPOS "Shuffle k x k" choice block (k in 3, 5, 7): main = 1x1 BN ReLU -> k x k dw (stride) BN -> 1x1 BN ReLU."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        mid_ch: int,
        kernel: int = 3,
        stride: int = 1,
    ) -> None:
        main_in, main_out = _main_widths(in_ch, out_ch, stride)
        main = nn.Sequential(
            ConvBnAct(main_in, mid_ch, 1, act="re"),
            depthwise(mid_ch, kernel, stride),
            ConvBnAct(mid_ch, main_out, 1, act="re"),
        )
        super().__init__(in_ch, out_ch, stride, kernel, main)

    @classmethod
    def from_layer(cls, layer: Layer) -> ShuffleBlock:
        return cls(layer.in_ch, layer.out_ch, layer.mid, layer.kernel, layer.stride)


@register_block("xception")
class ShuffleXception(ShuffleUnit):
    """SPOS "Shuffle-Xception" choice block: three (3x3 dw BN -> 1x1 BN ReLU) pairs, the first dw carrying the stride."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        mid_ch: int,
        stride: int = 1,
    ) -> None:
        main_in, main_out = _main_widths(in_ch, out_ch, stride)
        main = nn.Sequential(
            depthwise(main_in, 3, stride),
            ConvBnAct(main_in, mid_ch, 1, act="re"),
            depthwise(mid_ch, 3),
            ConvBnAct(mid_ch, mid_ch, 1, act="re"),
            depthwise(mid_ch, 3),
            ConvBnAct(mid_ch, main_out, 1, act="re"),
        )
        super().__init__(in_ch, out_ch, stride, 3, main)

    @classmethod
    def from_layer(cls, layer: Layer) -> ShuffleXception:
        return cls(layer.in_ch, layer.out_ch, layer.mid, layer.stride)

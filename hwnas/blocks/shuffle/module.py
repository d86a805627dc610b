"""The ``shuffle`` and ``xception`` blocks as PyTorch modules, and their forward at a narrower main-branch width."""

from __future__ import annotations

import torch
from torch import nn

from hwnas.arch.resolve import Layer
from hwnas.blocks.slicing import conv_bn_act
from hwnas.nn.layers import ChannelShuffle, ConvBnAct, depthwise


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


def elastic_forward(block: ShuffleUnit, x: torch.Tensor, layer: Layer) -> torch.Tensor:
    """A SPOS ``shuffle``/``xception`` unit with main-branch mid width ``layer.mid`` (channel search, Guo et al.
    2019). Every non-depthwise conv of the main branch but the last writes ``mid`` channels; depthwise
    convs follow their input; the last writes the fixed branch output."""
    h = block.main_input(x)
    last = len(block.main) - 1
    for i, conv in enumerate(block.main):
        h = conv_bn_act(conv, h, None if i == last else layer.mid)
    return block.shuffle(torch.cat([block.proj(x), h], dim=1))

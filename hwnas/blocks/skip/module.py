"""The ``skip`` block as a PyTorch module."""

from __future__ import annotations

import torch
from torch import nn

from hwnas.arch.resolve import Layer
from hwnas.nn.layers import ConvBnAct


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

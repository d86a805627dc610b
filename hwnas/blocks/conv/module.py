"""The ``cn`` block as a PyTorch module."""

from __future__ import annotations

from hwnas.arch.resolve import Layer
from hwnas.nn.layers import ConvBnAct


class ConvBlock(ConvBnAct):
    """A plain k x k conv-BN-act (the MobileNet/FBNet pre-pool 1x1 head conv is written as one)."""

    has_residual = False

    @classmethod
    def from_layer(cls, layer: Layer) -> ConvBlock:
        return cls(layer.in_ch, layer.out_ch, layer.kernel, layer.stride, act=layer.act)

"""The ``ds`` and ``dsa`` blocks as PyTorch modules."""

from __future__ import annotations

import torch
from torch import nn

from hwnas.arch.resolve import Layer
from hwnas.nn.layers import ConvBnAct, depthwise, se_or_identity


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
        self.se = se_or_identity(in_ch, se_ch, se_act, se_gate)
        self.conv_pw = ConvBnAct(in_ch, out_ch, 1, act=act if self.pw_act else None)

    @classmethod
    def from_layer(cls, layer: Layer) -> DepthwiseSeparable:
        return cls(layer.in_ch, layer.out_ch, layer.kernel, layer.stride, layer.se_ch, layer.act, layer.se_act,
                   layer.se_gate, layer.residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pw(self.se(self.conv_dw(x)))
        return out + x if self.has_residual else out


class DepthwiseSeparableAct(DepthwiseSeparable):
    """:class:`DepthwiseSeparable` with an activation after the pointwise BN (before any residual add)."""

    pw_act = True

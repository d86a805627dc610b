"""The ``ir`` block as a PyTorch module, and its forward at a narrower (elastic) mid width."""

from __future__ import annotations

import torch
from torch import nn

from hwnas.arch.resolve import Layer
from hwnas.blocks.slicing import KernelTransforms, conv_bn_act, squeeze_excite
from hwnas.nn.layers import ChannelShuffle, ConvBnAct, depthwise, se_or_identity


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
        self.se = se_or_identity(mid_ch, se_ch, se_act, se_gate)
        self.conv_pwl = ConvBnAct(mid_ch, out_ch, 1, groups=groups, act=None)  # linear bottleneck: no act

    @classmethod
    def from_layer(cls, layer: Layer) -> InvertedResidual:
        return cls(layer.in_ch, layer.out_ch, layer.mid, layer.kernel, layer.stride, layer.groups, layer.se_ch,
                   layer.act, layer.se_act, layer.se_gate, layer.residual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pwl(self.se(self.conv_dw(self.shuffle(self.conv_pw(x)))))
        return out + x if self.has_residual else out


def elastic_forward(block: InvertedResidual, x: torch.Tensor, layer: Layer,
                    kernel_transforms: KernelTransforms | None = None) -> torch.Tensor:
    """An ``ir`` block with mid width ``layer.mid``, SE width ``layer.se_ch`` (0: no SE) and depthwise kernel
    ``layer.kernel``, all at most the module's own (TF-NAS elastic widths, Hu et al. 2020; an entangled
    supernet's kernel, expansion and SE, Once-for-All, Cai et al. 2020): same op order as
    :class:`InvertedResidual`. ``kernel_transforms``: Once-for-All's kernel transforms (:func:`centre_kernel`)."""
    h = conv_bn_act(block.conv_pw, x, layer.mid)
    h = conv_bn_act(block.conv_dw, block.shuffle(h), kernel=layer.kernel, transforms=kernel_transforms)
    if layer.se_ch:
        h = squeeze_excite(block.se, h, layer.se_ch)
    out = conv_bn_act(block.conv_pwl, h)
    return out + x if block.has_residual else out

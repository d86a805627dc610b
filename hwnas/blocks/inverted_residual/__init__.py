"""``ir``: the inverted residual / MBConv block (MobileNetV2, Sandler et al. 2018), with FBNet group convs
(Wu et al. 2019, Table 2), squeeze-excite and TF-NAS elastic mid widths (Hu et al. 2020). Pure Python: the module
is in :mod:`.module`.

In an entangled supernet, candidates that differ in kernel, expansion or SE share one module (:meth:`share_key`).

Grammar: ``ir_r1_k5_s2_e3_c24`` plus optional ``m`` (mid width), ``g`` (groups), ``se``/``sec``, ``n<act>``,
``noskip``. Mid width: ``m`` if given, else ``round(in * e)`` (literal; timm rounds to a multiple of 8).
"""

from __future__ import annotations

from hwnas.arch.resolve import Layer, conv_out_size
from hwnas.arch.spec import BlockSpec
from hwnas.blocks.base import BlockType, ElasticForward, residual_if_shape_kept, same_shape
from hwnas.blocks.counting import BlockCost, depthwise, pointwise, squeeze_excite


class InvertedResidualType(BlockType):
    """1x1 expand (g) -> [shuffle] -> k x k depthwise (stride) -> [SE] -> 1x1 project (g) -> [+ x]."""

    name = "ir"
    fields = frozenset({"exp", "mid", "groups", "se", "se_channels", "act", "noskip"})
    required = ("repeats", "kernel", "stride", "exp", "out")
    has_exp = True
    width_field = "mid"

    def mid_width(self, block: BlockSpec, in_ch: int) -> int:
        # An explicit mid width wins (TF-NAS elastic widths); otherwise round(in * e), taken literally. timm
        # rounds to make_divisible(in * e, 8) instead: the list form (hwnas.arch.listform) writes that as an m.
        return block.mid if block.mid is not None else max(1, int(round(in_ch * block.exp)))

    def residual(self, block: BlockSpec, in_ch: int, stride: int) -> bool:
        return residual_if_shape_kept(block, in_ch, stride)

    def cost(self, layer: Layer, size: int) -> BlockCost:
        out = conv_out_size(size, layer.stride)
        x, mid, mid2, y = layer.in_ch * size ** 2, layer.mid * size ** 2, layer.mid * out ** 2, layer.out_ch * out ** 2
        held = x if layer.residual else 0
        ops = (pointwise(layer.in_ch, layer.mid, size, layer.groups),
               depthwise(layer.mid, layer.kernel, size, layer.stride), *squeeze_excite(layer.mid, layer.se_ch),
               pointwise(layer.mid, layer.out_ch, out, layer.groups))
        live = [x + mid]  # the expansion reads x (held or not, x is counted once here)
        if layer.groups > 1:
            live.append(held + 2 * mid)  # the shuffle copies the expanded map
        live.append(held + mid + mid2)
        if layer.se_ch:
            live.append(held + 2 * mid2)  # x * gate writes a new map
        live.append(held + mid2 + y)
        return BlockCost(ops, tuple(live))

    def key_block(self, layer: Layer) -> BlockSpec:
        # Always the mid width (so e is 1), an SE as a width, the activation, noskip only where a residual fits.
        return BlockSpec(self.name, layer.out_ch, layer.kernel, layer.stride, mid=layer.mid, groups=layer.groups,
                         se_channels=layer.se_ch or None, act=layer.act,
                         noskip=same_shape(layer) and not layer.residual)

    def module_class(self) -> type:
        from hwnas.blocks.inverted_residual.module import InvertedResidual

        return InvertedResidual

    def elastic_forward(self) -> ElasticForward:
        from hwnas.blocks.inverted_residual.module import elastic_forward

        return elastic_forward

    def share_key(self, layer: Layer) -> tuple:
        # Kernel, expansion (mid) and SE width may differ: the elastic forward slices all three. Groups may not:
        # a grouped 1x1 conv's weight is a different tensor shape, so FBNet's g2 candidates share among themselves.
        return (self.name, layer.in_ch, layer.out_ch, layer.stride, layer.groups, layer.act, layer.se_act,
                layer.se_gate, layer.residual)

"""``cn``: a plain k x k conv-BN-act (the MobileNet/FBNet pre-pool 1x1 head conv is written as one). Pure Python:
the module is in :mod:`.module`.

Grammar: ``cn_r1_k1_s1_c1280`` plus an optional ``n<act>``. No residual, no inner width.
"""

from __future__ import annotations

from hwnas.arch.resolve import Layer, conv_out_size
from hwnas.arch.spec import BlockSpec
from hwnas.blocks.base import BlockType
from hwnas.blocks.counting import BlockCost, ConvOp


class ConvType(BlockType):
    """One conv-BN-act."""

    name = "cn"
    fields = frozenset({"act"})
    width_free = True

    def cost(self, layer: Layer, size: int) -> BlockCost:
        out = conv_out_size(size, layer.stride)
        op = ConvOp(layer.in_ch, layer.out_ch, layer.kernel, layer.stride, 1, size)
        return BlockCost((op,), (layer.in_ch * size ** 2 + layer.out_ch * out ** 2,))

    def key_block(self, layer: Layer) -> BlockSpec:
        return BlockSpec(self.name, layer.out_ch, layer.kernel, layer.stride, act=layer.act)

    def module_class(self) -> type:
        from hwnas.blocks.conv.module import ConvBlock

        return ConvBlock

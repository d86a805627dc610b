"""``skip``: the FBNet "skip" candidate (Wu et al. 2019, Table 2): identity, or a 1x1 conv (stride) BN act when the
shape changes. Pure Python: the module is in :mod:`.module`.

Grammar: ``skip_s1_c16`` plus an optional ``n<act>`` (used by the projection only); no kernel, no inner width.
"""

from __future__ import annotations

from hwnas.arch.resolve import Layer, conv_out_size
from hwnas.arch.spec import BlockSpec
from hwnas.blocks.base import BlockType, same_shape
from hwnas.blocks.counting import BlockCost, pointwise


class SkipType(BlockType):
    """Identity (no op, nothing new allocated) or a 1x1 (stride) conv-BN-act projection."""

    name = "skip"
    fields = frozenset({"act"})
    required = ("stride", "out")
    has_kernel = False
    width_free = True

    def check(self, block: BlockSpec, where: str) -> None:
        if block.kernel != 3:  # 3 is the field's default: a skip written with k
            raise ValueError(f"{where}: a skip block has no kernel")

    def cost(self, layer: Layer, size: int) -> BlockCost:
        if same_shape(layer):
            return BlockCost((), (layer.in_ch * size ** 2,))
        out = conv_out_size(size, layer.stride)
        op = pointwise(layer.in_ch, layer.out_ch, size, stride=layer.stride)
        return BlockCost((op,), (layer.in_ch * size ** 2 + layer.out_ch * out ** 2,))

    def key_block(self, layer: Layer) -> BlockSpec:
        # An identity skip has no activation; a projection skip does.
        return BlockSpec(self.name, layer.out_ch, stride=layer.stride, act=None if same_shape(layer) else layer.act)

    def module_class(self) -> type:
        from hwnas.blocks.skip.module import Skip

        return Skip

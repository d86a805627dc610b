"""``ds`` and ``dsa``: the depthwise-separable block (MobileNet; the first block of MobileNetV2/V3 and MnasNet),
``dsa`` with an activation after the pointwise conv (timm's ``pw_act``). Pure Python: the modules are in
:mod:`.module`.

Grammar: ``ds_r1_k3_s1_e1_c16`` plus optional ``se``/``sec``, ``n<act>``, ``noskip``; the expansion is always 1.
"""

from __future__ import annotations

from hwnas.arch.resolve import Layer, conv_out_size
from hwnas.arch.spec import BlockSpec
from hwnas.blocks.base import BlockType, residual_if_shape_kept, same_shape
from hwnas.blocks.counting import BlockCost, depthwise, pointwise, squeeze_excite


class DepthwiseSeparableType(BlockType):
    """k x k depthwise (stride) -> [SE] -> 1x1 pointwise -> [+ x]."""

    name = "ds"
    fields = frozenset({"exp", "se", "se_channels", "act", "noskip"})
    required = ("repeats", "kernel", "stride", "out")
    has_exp = True

    def check(self, block: BlockSpec, where: str) -> None:
        if block.exp != 1.0:
            raise ValueError(f"{where}: depthwise-separable blocks have expansion 1, got {block.exp!r}")

    def mid_width(self, block: BlockSpec, in_ch: int) -> int:
        return in_ch  # the depthwise conv runs on the input width

    def residual(self, block: BlockSpec, in_ch: int, stride: int) -> bool:
        return residual_if_shape_kept(block, in_ch, stride)

    def cost(self, layer: Layer, size: int) -> BlockCost:
        out = conv_out_size(size, layer.stride)
        x, mid2, y = layer.in_ch * size ** 2, layer.in_ch * out ** 2, layer.out_ch * out ** 2
        held = x if layer.residual else 0
        ops = (depthwise(layer.in_ch, layer.kernel, size, layer.stride), *squeeze_excite(layer.in_ch, layer.se_ch),
               pointwise(layer.in_ch, layer.out_ch, out))
        live = [x + mid2] + ([held + 2 * mid2] if layer.se_ch else []) + [held + mid2 + y]
        return BlockCost(ops, tuple(live))

    def key_block(self, layer: Layer) -> BlockSpec:
        return BlockSpec(self.name, layer.out_ch, layer.kernel, layer.stride, se_channels=layer.se_ch or None,
                         act=layer.act, noskip=same_shape(layer) and not layer.residual)

    def module_class(self) -> type:
        from hwnas.blocks.depthwise_separable.module import DepthwiseSeparable

        return DepthwiseSeparable


class DepthwiseSeparableActType(DepthwiseSeparableType):
    """``dsa``: :class:`DepthwiseSeparableType` with an activation after the pointwise BN, and never a residual
    (timm's ``dsa`` is ``ds`` with ``pw_act`` and ``noskip``)."""

    name = "dsa"

    def residual(self, block: BlockSpec, in_ch: int, stride: int) -> bool:
        return False

    def module_class(self) -> type:
        from hwnas.blocks.depthwise_separable.module import DepthwiseSeparableAct

        return DepthwiseSeparableAct

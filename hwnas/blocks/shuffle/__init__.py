"""``shuffle`` and ``xception``: the ShuffleNetV2 choice blocks of SPOS (Ma et al. 2018; Guo et al. 2019), with a
searchable main-branch width (SPOS channel search). Pure Python: the modules are in :mod:`.module`.

Grammar: ``shuffle_r1_k5_s2_c48_w1.4`` (k in 3, 5, 7) and ``xception_r1_k3_s1_c48_w1`` (k is 3); the scale ``w``
sets the main-branch width ``int(out // 2 * w)``. A stride-1 unit splits its input in halves (input == output, even);
a stride-2 unit widens its stage (output > input, even), so its stride is never relaxed for small inputs.
"""

from __future__ import annotations

from hwnas.arch.resolve import Layer, conv_out_size
from hwnas.arch.spec import BlockSpec, check_positive
from hwnas.blocks.base import BlockType, ElasticForward
from hwnas.blocks.counting import BlockCost, ConvOp, chain_live, depthwise, pointwise

SHUFFLE_KERNELS = (3, 5, 7)


class ShuffleType(BlockType):
    """SPOS "Shuffle k x k": main branch 1x1 -> k x k dw (stride) -> 1x1, inside a ShuffleNetV2 unit."""

    name = "shuffle"
    fields = frozenset({"scale"})
    required = ("repeats", "kernel", "stride", "out", "scale")
    width_field = "scale"
    keeps_downsampling = True

    def check(self, block: BlockSpec, where: str) -> None:
        if block.kernel not in SHUFFLE_KERNELS:
            raise ValueError(f"{where}: ShuffleNetV2 choice kernels are {SHUFFLE_KERNELS}, got {block.kernel}")
        self._check_scale(block, where)

    @staticmethod
    def _check_scale(block: BlockSpec, where: str) -> None:
        if block.scale is None:
            raise ValueError(f"{where}: ShuffleNetV2 blocks need a mid-channel scale (w), e.g. w1.0")
        check_positive(where, "mid-channel scale (w)", block.scale)

    def mid_width(self, block: BlockSpec, in_ch: int) -> int:
        # Megvii SPOS: mid = int(out // 2 * scale); the epsilon keeps 0.6 * 160 = 96.00000000000001 -> 96 and
        # 0.7 * 80 = 55.99999999999999 -> 56 on the intended side.
        return max(1, int(block.out // 2 * block.scale + 1e-6))

    def check_channels(self, block: BlockSpec, where: str, in_ch: int, mid: int, stride: int) -> None:
        if stride == 1 and (in_ch != block.out or in_ch % 2):
            raise ValueError(
                f"{where}: a stride-1 ShuffleNetV2 block splits channels in half, so it needs input == output "
                f"and an even width; got {in_ch} -> {block.out}"
            )
        if stride == 2 and (block.out <= in_ch or block.out % 2):
            # The output channel shuffle interleaves two equal halves, so the concatenation must be even.
            raise ValueError(
                f"{where}: a stride-2 ShuffleNetV2 block concatenates a projection of its input ({in_ch}) with its "
                f"main branch and shuffles the result in two halves, so output ({block.out}) must exceed input and "
                f"be even"
            )

    def main_branch(self, layer: Layer, size: int, cin: int) -> tuple[ConvOp, ...]:
        out = conv_out_size(size, layer.stride)
        return (pointwise(cin, layer.mid, size), depthwise(layer.mid, layer.kernel, size, layer.stride),
                pointwise(layer.mid, layer.out_ch - cin, out))

    def cost(self, layer: Layer, size: int) -> BlockCost:
        # Stride 1 splits the input in halves and only one goes through the main branch; stride 2 feeds it all.
        cin = layer.in_ch // 2 if layer.stride == 1 else layer.in_ch
        return _unit_cost(layer, size, self.main_branch(layer, size, cin), layer.kernel)  # xception: k is 3

    def key_block(self, layer: Layer) -> BlockSpec:
        # ShuffleNetV2 units are always ReLU: no activation in the key.
        return BlockSpec(self.name, layer.out_ch, layer.kernel, layer.stride, scale=layer.block.scale)

    def module_class(self) -> type:
        from hwnas.blocks.shuffle.module import ShuffleBlock

        return ShuffleBlock

    def elastic_forward(self) -> ElasticForward:
        from hwnas.blocks.shuffle.module import elastic_forward

        return elastic_forward


class XceptionType(ShuffleType):
    """SPOS "Shuffle-Xception": main branch (dw3 (stride) -> 1x1) then twice (dw3 -> 1x1)."""

    name = "xception"
    required = ("repeats", "stride", "out", "scale")

    def check(self, block: BlockSpec, where: str) -> None:
        if block.kernel != 3:
            raise ValueError(f"{where}: the SPOS Xception block uses 3x3 depthwise convs only, got kernel "
                             f"{block.kernel}")
        self._check_scale(block, where)

    def main_branch(self, layer: Layer, size: int, cin: int) -> tuple[ConvOp, ...]:
        out = conv_out_size(size, layer.stride)
        return (depthwise(cin, 3, size, layer.stride), pointwise(cin, layer.mid, out), depthwise(layer.mid, 3, out),
                pointwise(layer.mid, layer.mid, out), depthwise(layer.mid, 3, out),
                pointwise(layer.mid, layer.out_ch - cin, out))

    def module_class(self) -> type:
        from hwnas.blocks.shuffle.module import ShuffleXception

        return ShuffleXception


def _unit_cost(layer: Layer, size: int, main: tuple[ConvOp, ...], proj_kernel: int) -> BlockCost:
    """ShuffleNetV2 unit (Ma et al. 2018): [split | projection] + main branch, concat, channel shuffle(2)."""
    out = conv_out_size(size, layer.stride)
    x, y, y_main = layer.in_ch * size ** 2, layer.out_ch * out ** 2, main[-1].cout * out ** 2
    if layer.stride == 1:
        # The pass-through half is a view of x, so all of x stays alive until the concat.
        proj: tuple[ConvOp, ...] = ()
        live = [x + main[0].cout * main[0].out_size ** 2] + chain_live(main[1:], held=x)
        live.append(x + y_main + y)  # concat
    else:
        # The projection branch runs first while x waits for the main branch; then its output waits.
        proj = (depthwise(layer.in_ch, proj_kernel, size, layer.stride), pointwise(layer.in_ch, layer.in_ch, out))
        proj_out = layer.in_ch * out ** 2
        live = chain_live(proj, held=x) + [proj_out + x + main[0].cout * main[0].out_size ** 2]
        live += chain_live(main[1:], held=proj_out)
        live.append(proj_out + y_main + y)  # concat
    live.append(2 * y)  # channel shuffle copies
    return BlockCost(proj + main, tuple(live))

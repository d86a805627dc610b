"""Resolve an ArchSpec into concrete layers: channels, mid and SE widths, residuals, activations, feature sizes.

This is the one place where widths are derived from the spec. The model builder, every cost model, the latency
table and the report read :class:`Layer` values from here, so a network is never interpreted in two ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hwnas.arch.spec import ArchSpec, BlockSpec


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """Round ``value`` to a multiple of ``divisor`` without going below ``round_limit`` of it.

    The MobileNetV2/V3 rounding rule (Sandler et al. 2018; Howard et al. 2019), used for SE widths in ``exp`` mode.
    """
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < round_limit * value:
        new += divisor
    return new


@dataclass(frozen=True)
class Layer:
    """One block of the network with everything its shape depends on made explicit (repeats expanded)."""

    stage: int
    index: int  # index within the stage, counting expanded repeats
    block: BlockSpec  # the spec it came from (repeats, stride as written)
    type: str
    in_ch: int
    out_ch: int
    mid: int  # expanded width (ir), depthwise width (ds), mid width (shuffle/xception), out (cn/skip)
    kernel: int
    stride: int  # stride of this expanded layer (only the first repeat strides)
    groups: int
    se_ch: int  # 0 = no squeeze-excite
    se_gate: str  # "sigmoid" or "hard_sigmoid"
    se_act: str  # activation inside the SE
    act: str  # resolved activation
    residual: bool  # adds its input to its output

    @property
    def label(self) -> str:
        return f"s{self.stage}_b{self.index}"


def _mid_width(block: BlockSpec, in_ch: int) -> int:
    if block.type == "ir":
        # An explicit mid width wins (TF-NAS elastic widths); otherwise the timm rule round(in * e).
        return block.mid if block.mid is not None else max(1, int(round(in_ch * block.exp)))
    if block.type in ("ds", "dsa"):
        return in_ch
    if block.type in ("shuffle", "xception"):
        # Megvii SPOS: mid = int(out // 2 * scale); the epsilon keeps 0.6 * 160 = 96.00000000000001 -> 96 and
        # 0.7 * 80 = 55.99999999999999 -> 56 on the intended side.
        return max(1, int(block.out // 2 * block.scale + 1e-6))
    return block.out


def _se_width(block: BlockSpec, in_ch: int, mid: int, se_mode: str) -> int:
    if block.se_channels is not None:
        return block.se_channels
    if not block.se:
        return 0
    if se_mode == "exp":
        return make_divisible(mid * block.se, 8)
    return max(1, int(round(in_ch * block.se)))


def _check_channels(block: BlockSpec, where: str, in_ch: int, mid: int, stride: int) -> None:
    if block.groups > 1:
        bad = [n for n, v in (("input", in_ch), ("mid", mid), ("output", block.out)) if v % block.groups]
        if bad:
            raise ValueError(
                f"{where}: group conv g{block.groups} needs input ({in_ch}), mid ({mid}) and output "
                f"({block.out}) channels divisible by {block.groups}; {', '.join(bad)} are not"
            )
    if block.type in ("shuffle", "xception"):
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


def _residual(block: BlockSpec, in_ch: int, stride: int) -> bool:
    if block.type in ("ir", "ds", "dsa"):
        return stride == 1 and in_ch == block.out and not block.noskip
    return False  # skip/shuffle/xception handle their own identity paths; cn has none


def resolve_layers(spec: ArchSpec) -> tuple[Layer, ...]:
    """Expand repeats and derive every width. Raises ``ValueError`` where the channel chain is impossible."""
    in_ch = spec.stem.out
    layers: list[Layer] = []
    for s, stage in enumerate(spec.stages):
        index = 0
        for block in stage:
            for r in range(block.repeats):
                stride = block.stride if r == 0 else 1
                where = f"stage {s} block {index} ({block.type}, {in_ch}->{block.out})"
                mid = _mid_width(block, in_ch)
                _check_channels(block, where, in_ch, mid, stride)
                se_ch = _se_width(block, in_ch, mid, spec.se_mode)
                act = block.act or spec.act
                layers.append(Layer(
                    stage=s, index=index, block=block, type=block.type, in_ch=in_ch, out_ch=block.out, mid=mid,
                    kernel=block.kernel, stride=stride, groups=block.groups, se_ch=se_ch,
                    se_gate="hard_sigmoid" if spec.se_mode == "exp" else "sigmoid",
                    se_act="re" if spec.se_mode == "exp" else act,
                    act=act, residual=_residual(block, in_ch, stride),
                ))
                in_ch = block.out
                index += 1
    return tuple(layers)


def conv_out_size(size: int, stride: int) -> int:
    """Output size of a conv with an odd kernel and 'same' padding k // 2: ceil(size / stride)."""
    return math.ceil(size / stride)


def feature_sizes(spec: ArchSpec, input_size: int) -> tuple[int, list[tuple[int, int]]]:
    """Spatial size after the stem, and (input size, output size) of every resolved layer, for square inputs."""
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input size must be a positive integer, got {input_size!r}")
    size = conv_out_size(input_size, spec.stem.stride)
    stem_size = size
    sizes = []
    for layer in resolve_layers(spec):
        out = conv_out_size(size, layer.stride)
        sizes.append((size, out))
        size = out
    return stem_size, sizes


def total_stride(spec: ArchSpec) -> int:
    """Product of all strides: the input-to-final-feature-map downsampling factor."""
    stride = spec.stem.stride
    for layer in resolve_layers(spec):
        stride *= layer.stride
    return stride

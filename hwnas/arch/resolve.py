"""Resolve an ArchSpec into concrete layers: channels, mid and SE widths, residuals, activations, feature sizes.

This is the one place where widths are derived from the spec (each block type's own rule, its
:class:`~hwnas.arch.spec.BlockKind`, gives its inner width and whether it has a residual). The model builder, every
cost model, the latency table and the report read :class:`Layer` values from here, so a network is never
interpreted in two ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from hwnas.arch.spec import ArchSpec, BlockSpec, StemSpec


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


def _se_width(block: BlockSpec, in_ch: int, mid: int, se_mode: str) -> int:
    if block.se_channels is not None:
        return block.se_channels
    if not block.se:
        return 0
    if se_mode == "exp":
        return make_divisible(mid * block.se, 8)
    return max(1, int(round(in_ch * block.se)))


def resolve_layers(spec: ArchSpec) -> tuple[Layer, ...]:
    """Expand repeats and derive every width (the spec checked that its channel chain is possible)."""
    layers: list[Layer] = []
    for s, index, block, in_ch, stride in spec.walk():  # the spec checked its channel chain when it was made
        kind = block.kind
        mid = kind.mid_width(block, in_ch)
        se_ch = _se_width(block, in_ch, mid, spec.se_mode)
        act = block.act or spec.act
        layers.append(Layer(
            stage=s, index=index, block=block, type=block.type, in_ch=in_ch, out_ch=block.out, mid=mid,
            kernel=block.kernel, stride=stride, groups=block.groups, se_ch=se_ch,
            se_gate="hard_sigmoid" if spec.se_mode == "exp" else "sigmoid",
            se_act="re" if spec.se_mode == "exp" else act,
            act=act, residual=kind.residual(block, in_ch, stride),
        ))
    return tuple(layers)


@lru_cache(maxsize=65536)
def resolve_block(block: BlockSpec, in_ch: int, act: str, se_mode: str) -> Layer:
    """The resolved layer of one block (one repeat) reading ``in_ch`` channels inside a network with this default
    activation and SE convention: how a search space, a supernet or a latency table sees one candidate."""
    spec = ArchSpec(stem=StemSpec(out=in_ch, stride=1), stages=((replace(block, repeats=1),),), act=act,
                    se_mode=se_mode)
    return resolve_layers(spec)[0]


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

"""The counting vocabulary of block types: weighted ops and live feature-map steps (pure Python, no torch).

Each block type (:mod:`hwnas.blocks`) describes one resolved layer as the :class:`ConvOp` values it runs and the
elements alive at each step of its run (a :class:`BlockCost`); :mod:`hwnas.cost.counting` sums them into
parameters, MACs and peak activation memory and documents the conventions (what is a MAC, what is alive).
"""

from __future__ import annotations

from dataclasses import dataclass

from hwnas.arch.resolve import conv_out_size


@dataclass(frozen=True)
class ConvOp:
    """One conv (or a linear layer: a 1x1 conv on a 1x1 map) with the spatial size of its input."""

    cin: int
    cout: int
    kernel: int
    stride: int
    groups: int
    size: int  # input height = width
    bn: bool = True  # followed by a BatchNorm (weight + bias)
    bias: bool = False

    @property
    def out_size(self) -> int:
        return conv_out_size(self.size, self.stride)

    @property
    def weights(self) -> int:
        return self.kernel * self.kernel * (self.cin // self.groups) * self.cout

    @property
    def bn_params(self) -> int:
        return 2 * self.cout if self.bn else 0

    @property
    def params(self) -> int:
        return self.weights + self.bn_params + (self.cout if self.bias else 0)

    @property
    def macs(self) -> int:
        return self.weights * self.out_size * self.out_size


@dataclass(frozen=True)
class BlockCost:
    """The weighted ops of one block and the live feature-map elements (per image) at each step of its run."""

    ops: tuple[ConvOp, ...]
    live: tuple[int, ...]


def pointwise(cin: int, cout: int, size: int, groups: int = 1, stride: int = 1) -> ConvOp:
    """A 1x1 conv-BN."""
    return ConvOp(cin, cout, 1, stride, groups, size)


def depthwise(ch: int, kernel: int, size: int, stride: int = 1) -> ConvOp:
    """A k x k depthwise conv-BN."""
    return ConvOp(ch, ch, kernel, stride, ch, size)


def squeeze_excite(ch: int, se_ch: int) -> tuple[ConvOp, ...]:
    """The two biased, BN-free 1x1 convs of a squeeze-excite on the pooled 1x1 map (Hu et al. 2018)."""
    if not se_ch:
        return ()
    return ConvOp(ch, se_ch, 1, 1, 1, 1, bn=False, bias=True), ConvOp(se_ch, ch, 1, 1, 1, 1, bn=False, bias=True)


def chain_live(ops: tuple[ConvOp, ...], held: int) -> list[int]:
    """Live elements of a sequential chain of convs, each reading the previous output, while ``held`` waits."""
    return [held + op.cin * op.size ** 2 + op.cout * op.out_size ** 2 for op in ops]

"""The contract of a block type: everything hwnas knows of one type, in one object (no torch at import).

A block type (one package per type under :mod:`hwnas.blocks`) subclasses :class:`BlockType` and is registered in
:mod:`hwnas.blocks.registry`. On top of what the spec layer needs (:class:`~hwnas.arch.spec.BlockKind`: grammar
fields, own checks, inner width, residual rule, which field an elastic width sets) it gives:

* its ``nn.Module`` (:meth:`BlockType.module_class`), built from a resolved :class:`~hwnas.arch.Layer`;
* its analytic counts (:meth:`BlockType.cost`: weighted ops and live memory, :mod:`hwnas.blocks.counting`);
* the canonical block of its latency-table key (:meth:`BlockType.key_block`, :mod:`hwnas.cost.lut_keys`);
* its elastic-width forward in a supernet (:meth:`BlockType.elastic_forward`), if its width can be narrowed;
* which candidates of a slot may share its weights in an entangled supernet (:meth:`BlockType.share_key`).

Module classes and elastic forwards import torch, so a type imports them inside those two methods: the spec, the
spaces and the counts stay pure Python.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from hwnas.arch.resolve import Layer
from hwnas.arch.spec import BlockKind, BlockSpec
from hwnas.blocks.counting import BlockCost

ElasticForward = Callable[[Any, Any, Layer], Any]
"""``(module, x, layer) -> y``: the module built at its largest width, run at the narrower widths of ``layer``."""


class BlockType(BlockKind):
    """One block type of the arch grammar, end to end (see the module docstring)."""

    def module_class(self) -> type:
        """The ``nn.Module`` class built for this type; it has a ``from_layer(layer)`` constructor."""
        raise NotImplementedError(f"block type {self.name!r} has no module")

    def cost(self, layer: Layer, size: int) -> BlockCost:
        """Weighted ops and live-memory steps of ``layer`` on a ``size`` x ``size`` input."""
        raise NotImplementedError(f"block type {self.name!r} has no cost model")

    def key_block(self, layer: Layer) -> BlockSpec:
        """The block that builds exactly ``layer``'s module, every width explicit: the text of its table key."""
        raise NotImplementedError(f"block type {self.name!r} has no latency-table key")

    def elastic_forward(self) -> ElasticForward | None:
        """The sliced forward that runs this type's module at a narrower width; ``None``: its width is fixed."""
        return None

    def share_key(self, layer: Layer) -> Hashable | None:
        """Weight entanglement (Once-for-All, Cai et al. 2020; BigNAS, Yu et al. 2020): candidates of one slot
        whose layers have equal keys share one module, built at the largest kernel and widths among them, and each
        runs as a slice of it through :meth:`elastic_forward`. ``None`` (the default): ``layer`` keeps its own
        weights."""
        return None


def residual_if_shape_kept(block: BlockSpec, in_ch: int, stride: int) -> bool:
    """The MobileNetV2 skip rule (Sandler et al. 2018): add the input when stride and width are kept, unless the
    block says ``noskip``. Shared by the types that have a residual (``ir``, ``ds``, ``dsa``)."""
    return stride == 1 and in_ch == block.out and not block.noskip


def same_shape(layer: Layer) -> bool:
    """Whether ``layer`` keeps its input's shape (stride 1, as many channels out as in)."""
    return layer.stride == 1 and layer.in_ch == layer.out_ch

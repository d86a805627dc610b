"""The block registry: every block type by name, and the one place that dispatches on a type name.

Each built-in type is one package of :mod:`hwnas.blocks` with a :class:`~hwnas.blocks.base.BlockType`; importing
this module registers them (``ir``, ``ds``, ``dsa``, ``cn``, ``skip``, ``shuffle``, ``xception``, the grammar's
order), which also makes them known to the spec layer (:func:`hwnas.arch.spec.register_kind`; the spec loads this
module the first time it looks a type up, so a spec can always be read). Everything above the spec asks here:

* :func:`block_type` for a type's counts, table key and elastic forward;
* :func:`create_block` for the module of one resolved layer (the model builder, the supernet, the latency table).

A new built-in block type is a new package with a ``BlockType`` subclass and one entry in ``_BUILTIN`` below;
code outside hwnas registers its own with :func:`register` (and :func:`unregister`). :func:`register_block` adds a
bare module class for a name (a module-only type, for experiments and tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hwnas.arch.resolve import Layer
from hwnas.arch.spec import block_kind, kind_names, register_kind, unregister_kind
from hwnas.blocks.base import BlockType
from hwnas.blocks.conv import ConvType
from hwnas.blocks.depthwise_separable import DepthwiseSeparableActType, DepthwiseSeparableType
from hwnas.blocks.inverted_residual import InvertedResidualType
from hwnas.blocks.shuffle import ShuffleType, XceptionType
from hwnas.blocks.skip import SkipType


_modules: dict[str, type] | None = None
"""Type name -> ``nn.Module`` class, made on first use: module classes import torch, and the spec layer and the
spaces, which import this registry, must not."""


def register(kind: BlockType) -> BlockType:
    """Make ``kind`` the block type of its name, for the spec layer and everything above it (its module too, if
    the module table is already made)."""
    register_kind(kind)
    if _modules is not None:
        _modules[kind.name] = kind.module_class()
    return kind


def unregister(name: str) -> None:
    """Forget block type ``name`` and its module (for a type registered by a test or an experiment)."""
    unregister_kind(name)
    if _modules is not None:
        _modules.pop(name, None)


_BUILTIN = (InvertedResidualType(), DepthwiseSeparableType(), DepthwiseSeparableActType(), ConvType(), SkipType(),
            ShuffleType(), XceptionType())
for _block_type in _BUILTIN:
    register(_block_type)

BLOCK_TYPES = kind_names()
"""The built-in block types, in the grammar's order."""


def block_type(name: str) -> BlockType:
    """The registered type ``name``; ``ValueError`` naming the valid types if there is none."""
    kind = block_kind(name)
    if not isinstance(kind, BlockType):
        raise ValueError(f"block type {name!r} was registered for specs only; it has no module, costs or key")
    return kind


def block_types() -> tuple[str, ...]:
    """Every registered block type, in registration order."""
    return kind_names()


# ---------------------------------------------------------------------------------------------- modules
def _module_table() -> dict[str, type]:
    global _modules
    if _modules is None:
        _modules = {name: block_type(name).module_class() for name in block_types()}
    return _modules


def __getattr__(name: str) -> Any:
    # ``BLOCKS`` (type name -> nn.Module class) reads the module table, made on first use (PEP 562).
    if name == "BLOCKS":
        return _module_table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_B = TypeVar("_B", bound=type)


def register_block(name: str) -> Callable[[_B], _B]:
    """Class decorator: make ``cls`` the module built for type ``name`` (a module-only type)."""

    def add(cls: _B) -> _B:
        table = _module_table()
        if name in table:
            raise ValueError(f"block type {name!r} is already registered to {table[name].__name__}")
        table[name] = cls
        return cls

    return add


def create_block(layer: Layer) -> Any:
    """The ``nn.Module`` of one resolved layer (its type's ``from_layer``)."""
    table = _module_table()
    if layer.type not in table:
        raise ValueError(f"no block registered for type {layer.type!r}; registered: {', '.join(sorted(table))}")
    return table[layer.type].from_layer(layer)  # type: ignore[attr-defined]

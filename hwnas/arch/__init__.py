"""Architectures as values: specs, their text/JSON forms and the widths they resolve to. No torch import."""

from hwnas.arch.codec import decode, decode_block, dumps, encode, encode_block, from_dict, loads, to_dict
from hwnas.arch.resolve import Layer, feature_sizes, make_divisible, resolve_block, resolve_layers, total_stride
from hwnas.arch.spec import (
    ACTIVATIONS, SE_MODES, ArchSpec, BlockKind, BlockSpec, HeadSpec, StemSpec, block_kind, kind_names, register_kind,
)
from hwnas.arch.transform import for_input_size, scale_depth, scale_width

__all__ = [
    "ACTIVATIONS", "SE_MODES", "ArchSpec", "BlockKind", "BlockSpec", "HeadSpec", "Layer", "StemSpec", "block_kind",
    "decode", "decode_block", "dumps", "encode", "encode_block", "feature_sizes", "for_input_size", "from_dict",
    "kind_names", "loads", "make_divisible", "register_kind", "resolve_block", "resolve_layers", "scale_depth",
    "scale_width", "to_dict", "total_stride",
]

"""Architectures as values: specs, their text/JSON forms and the widths they resolve to. No torch import."""

from hwnas.arch.codec import decode, decode_block, dumps, encode, encode_block, from_dict, loads, to_dict
from hwnas.arch.resolve import Layer, feature_sizes, make_divisible, resolve_layers, total_stride
from hwnas.arch.spec import ACTIVATIONS, BLOCK_TYPES, SE_MODES, ArchSpec, BlockSpec, HeadSpec, StemSpec
from hwnas.arch.transform import for_input_size, scale_depth, scale_width

__all__ = [
    "ACTIVATIONS", "BLOCK_TYPES", "SE_MODES", "ArchSpec", "BlockSpec", "HeadSpec", "Layer", "StemSpec", "decode",
    "decode_block", "dumps", "encode", "encode_block", "feature_sizes", "for_input_size", "from_dict", "loads",
    "make_divisible", "resolve_layers", "scale_depth", "scale_width", "to_dict", "total_stride",
]

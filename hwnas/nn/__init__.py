"""PyTorch modules built from architecture specs: layers, the block registry and the network builder."""

from hwnas.nn.blocks import (
    BLOCKS,
    ConvBlock,
    DepthwiseSeparable,
    DepthwiseSeparableAct,
    InvertedResidual,
    ShuffleBlock,
    ShuffleUnit,
    ShuffleXception,
    Skip,
    create_block,
    register_block,
)
from hwnas.nn.builder import ClassifierHead, HwnasNet, build_model, init_weights
from hwnas.nn.layers import (
    ACT_LAYERS,
    GATE_LAYERS,
    ChannelShuffle,
    ConvBnAct,
    SqueezeExcite,
    channel_shuffle,
    create_act,
    create_gate,
    depthwise,
)

__all__ = [
    "ACT_LAYERS", "BLOCKS", "GATE_LAYERS", "ChannelShuffle", "ClassifierHead", "ConvBlock", "ConvBnAct",
    "DepthwiseSeparable", "DepthwiseSeparableAct", "HwnasNet", "InvertedResidual", "ShuffleBlock", "ShuffleUnit",
    "ShuffleXception", "Skip", "SqueezeExcite", "build_model", "channel_shuffle", "create_act", "create_block",
    "create_gate", "depthwise", "init_weights", "register_block",
]

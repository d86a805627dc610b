"""PyTorch modules built from architecture specs: shared layers and the network builder (the blocks themselves
are in :mod:`hwnas.blocks`)."""

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
    se_or_identity,
)

__all__ = [
    "ACT_LAYERS", "GATE_LAYERS", "ChannelShuffle", "ClassifierHead", "ConvBnAct", "HwnasNet", "SqueezeExcite",
    "build_model", "channel_shuffle", "create_act", "create_gate", "depthwise", "init_weights", "se_or_identity",
]

"""The memory format of training, evaluation and supernet training: NCHW (contiguous) or NHWC (channels_last).

One decision, made here for every caller (the training loop, :func:`~hwnas.train.evaluate`, the weight steps and
candidate scoring of every search method): a model and the batches it sees are either both contiguous or both
channels_last. The values are the same either way up to float32 rounding (in float64 the layouts agree to 1e-14;
in float32 the CPU's NHWC BatchNorm is the one kernel less exact, about 2e-6 relative against NCHW's 5e-8:
benchmarks/layout_precision.py), and what changes is speed: NHWC lets oneDNN run the depthwise and 1x1
convolutions of mobile networks without reordering every activation, and a training step of FBNet-space networks
on this project's 2-core CPU runs 1.6-2.7x faster in it (docs/BENCHMARKS.md, "Training speed on the CPU
(channels_last)"). On CUDA it is the layout tensor cores want under mixed precision, but it was not measured here
for these float32 networks, so CUDA keeps the previous default (contiguous) unless asked.
"""

from __future__ import annotations

import torch
from torch import nn

# Where channels_last is on by default: the device types it was measured to win on (docs/BENCHMARKS.md).
CHANNELS_LAST_DEVICES = frozenset({"cpu"})


def use_channels_last(setting: bool | None, device: torch.device | str) -> bool:
    """The effective flag: ``setting`` when given (True/False), else whether ``device``'s type is one where
    channels_last was measured to win (:data:`CHANNELS_LAST_DEVICES`)."""
    if setting is not None:
        return bool(setting)
    return torch.device(device).type in CHANNELS_LAST_DEVICES


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` in channels_last when asked and it is an image batch (4-d); other tensors are returned as they are."""
    if channels_last and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def model_to_layout(model: nn.Module, channels_last: bool) -> nn.Module:
    """``model`` with its 4-d weights and buffers in channels_last (in place: the same Parameter objects, so an
    optimizer built before keeps working), or unchanged when not asked.

    Converting walks every tensor (tens of ms for a supernet of 1,600 weights), so a model already converted is
    recognised by its first 4-d weight and left alone: candidate scoring calls this once per candidate.
    """
    if channels_last and not _in_channels_last(model):
        model.to(memory_format=torch.channels_last)
    return model


def _in_channels_last(model: nn.Module) -> bool:
    """Whether the first 4-d weight has the exact strides of channels_last. Not ``is_contiguous(memory_format=
    ...)``: a 1x1 or one-channel kernel (all of a mobile network's) is contiguous in both formats, yet the stride
    values decide which format a convolution picks."""
    for p in model.parameters():
        if p.dim() == 4 and p.shape[1] * p.shape[2] * p.shape[3] > 1:  # (N, 1, 1, 1) has the same strides in both
            _, c, h, w = p.shape
            # (``p.contiguous(memory_format=...)`` would return such a kernel as it is, strides unchanged.)
            return p.stride() == (h * w * c, 1, w * c, c)
    return True  # no 4-d weight whose layout shows: nothing to convert

"""Evaluation of a classifier over a BatchSource: top-1, top-5 and mean cross-entropy."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.train.layout import to_layout, use_channels_last
from hwnas.train.metrics import topk_correct


@torch.no_grad()
def evaluate(
    model: nn.Module,
    source: Any,
    device: torch.device | str,
    *,
    amp_dtype: torch.dtype | None = None,
    channels_last: bool | None = None,
) -> dict[str, float]:
    """Run ``model`` in eval mode over every batch of ``source.epoch_batches(0)``.

    Returns ``{"top1", "top5"}`` in percent, ``"loss"`` (mean un-smoothed CE) and
    ``"n"`` (samples). The model's train/eval mode is restored afterwards.
    ``amp_dtype`` (CUDA only) autocasts the forward; the training loop passes None on the CPU. ``channels_last``
    feeds the batches in NHWC (None: where that wins, :func:`~hwnas.train.layout.use_channels_last`); the model's
    weights should be in the same layout (:func:`~hwnas.train.layout.model_to_layout`), as the training loop and
    the search keep them, or each convolution reorders its weight on every call.
    """
    device = torch.device(device)
    channels_last = use_channels_last(channels_last, device)
    was_training = model.training
    model.eval()
    loss_sum, correct1, correct5, n = 0.0, 0, 0, 0
    try:
        for x, y in source.epoch_batches(0):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            x = to_layout(x, channels_last)
            autocast = (
                torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()
            )
            with autocast:
                logits = model(x)
            loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").item()
            c1, c5 = topk_correct(logits, y, (1, 5))
            correct1, correct5, n = correct1 + c1, correct5 + c5, n + y.shape[0]
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluation source yielded no samples; check its length and epoch_batches()")
    return {"top1": 100.0 * correct1 / n, "top5": 100.0 * correct5 / n, "loss": loss_sum / n, "n": n}

"""BatchNorm over the global batch of a data-parallel step (synchronised BN, Zhang et al. 2018, "Context Encoding
for Semantic Segmentation", Sec. 3.3; ``torch.nn.SyncBatchNorm`` does the same on GPUs only).

Each rank holds a shard of the batch. Normalising with the shard's own mean and variance would make N processes
compute something other than one process on the whole batch (and a different thing for every N); here the
per-channel sums of ``x`` and ``x^2`` and the element count are summed over the ranks with an autograd-aware
all-reduce, so the forward pass uses the global statistics and the backward pass routes every rank's gradient
through them. Sums are taken in float64 so the one-pass variance ``E[x^2] - E[x]^2`` loses nothing measurable
against the two-pass one of ``F.batch_norm``. A rank whose shard is empty for a layer (a candidate no sample of
its shard picked) still takes part, with zero sums.

:class:`BatchNorm2d` is the BatchNorm of every hwnas network: a plain ``nn.BatchNorm2d`` (same parameters, state
dict, export) that switches to the global statistics only in training mode inside :func:`synchronised`, which
the training step of a data-parallel run opens with its process group (a ``World`` of :mod:`hwnas.distributed`)
and its model: the decision is a property of the model's layers for the duration of the step, passed in, never
read from module state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def global_batch_norm(x: torch.Tensor, running_mean: torch.Tensor | None, running_var: torch.Tensor | None,
                      weight: torch.Tensor | None, bias: torch.Tensor | None, momentum: float,
                      eps: float) -> torch.Tensor:
    """Training-mode batch norm of ``x`` (N, C, H, W) with statistics over the batch of every rank.

    The running statistics (views allowed: the elastic supernet passes leading-channel slices) are updated in
    place as ``F.batch_norm`` does: ``(1 - momentum) * running + momentum * batch``, the variance unbiased.
    """
    channels = x.shape[1]
    x64 = x.double()
    local = torch.cat([x64.sum(dim=(0, 2, 3)), (x64 * x64).sum(dim=(0, 2, 3)),
                       x64.new_tensor([float(x.numel() // max(channels, 1))])])
    total = _all_reduce_sum(local)
    count = total[-1]
    if float(count.detach()) < 2:
        raise ValueError(f"batch norm needs more than one value per channel over all ranks, got {int(count)}")
    mean = total[:channels] / count
    var = (total[channels:2 * channels] / count - mean * mean).clamp_min(0)
    if running_mean is not None and running_var is not None:
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
            unbiased = var * (count / (count - 1))
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
    shape = (1, channels, 1, 1)
    y = (x - mean.to(x.dtype).view(shape)) * torch.rsqrt(var.to(x.dtype).view(shape) + eps)
    if weight is not None:
        y = y * weight.view(shape)
    if bias is not None:
        y = y + bias.view(shape)
    return y


class _AllReduceSum(torch.autograd.Function):
    """``y = sum_r x_r`` on every rank. Every rank's ``y`` depends on every ``x_r``, so the gradient of ``x_r`` is
    the sum over ranks of the gradients of their ``y``: an all-reduce again. (A plain ``dist.all_reduce`` inside
    a Function rather than torch's functional collectives: those import ``torch._dynamo``, 2 s per rank, whose
    import keeps a reference to the process group that stops it from being destroyed at exit.)"""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:  # noqa: ARG004 (autograd's signature)
        out = t.detach().clone()
        torch.distributed.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        grad = grad.contiguous().clone()
        torch.distributed.all_reduce(grad)
        return grad


def _all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over the ranks, differentiable: the gradient of every rank's output flows back to every input."""
    return _AllReduceSum.apply(t)


def batch_norm(x: torch.Tensor, running_mean: torch.Tensor | None, running_var: torch.Tensor | None,
               weight: torch.Tensor | None, bias: torch.Tensor | None, training: bool, momentum: float,
               eps: float, world: Any = None) -> torch.Tensor:
    """``F.batch_norm``, with global-batch statistics over ``world``'s ranks when training in a synchronised step
    (``world`` is the layer's :attr:`BatchNorm2d.sync_world`)."""
    if training and world is not None:
        return global_batch_norm(x, running_mean, running_var, weight, bias, momentum, eps)
    return F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)


class BatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` that uses the global batch's statistics in a synchronised data-parallel step."""

    sync_world: Any = None  # the process group whose global batch to normalise over; set by synchronised()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.sync_world is not None):
            return super().forward(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as nn.BatchNorm2d
                factor = 1.0 / float(self.num_batches_tracked)
        running = (self.running_mean, self.running_var) if self.track_running_stats else (None, None)
        return global_batch_norm(x, *running, self.weight, self.bias, factor, self.eps)


@contextlib.contextmanager
def synchronised(model: nn.Module, world: Any) -> Iterator[None]:
    """Inside this block, ``model``'s BatchNorm layers in training mode use the statistics of the global batch
    of ``world`` (a :class:`hwnas.distributed.World`); a no-op for one process (``world`` None or not active).

    Sets ``sync_world`` on every submodule that declares one (:class:`BatchNorm2d`; the supernet, whose
    per-sample paths then run every candidate some rank picked) and restores it afterwards.
    """
    if world is None or not world.active:
        yield
        return
    modules = [m for m in model.modules() if hasattr(m, "sync_world")]
    previous = [m.sync_world for m in modules]
    for m in modules:
        m.sync_world = world
    try:
        yield
    finally:
        for m, before in zip(modules, previous):
            m.sync_world = before

"""The interface the training loop consumes: a re-iterable, resumable source of batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class BatchSource(Protocol):
    """What :class:`TensorLoader` and :class:`DatasetLoader` both provide.

    ``epoch_batches(epoch, start)`` yields ``(x, y)`` with ``x`` a normalised
    float tensor [B, C, H, W] and ``y`` int64 labels [B], both on the source's
    device, for batches ``start .. len(source) - 1`` of ``epoch``. Batch ``k``
    of epoch ``e`` is a pure function of the source's seed, ``e`` and ``k``:
    resuming with ``start=k`` gives exactly the batches an uninterrupted
    epoch would have produced from ``k`` on.
    """

    def __len__(self) -> int:
        """Batches per epoch."""
        ...

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches ``start..`` of ``epoch``."""
        ...

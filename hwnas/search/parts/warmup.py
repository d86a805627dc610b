"""Channel warm-up of one-shot supernet training: which widths a path may take at an epoch.

The SPOS MXNet reimplementation (seed 003; its ``epoch_start_cs`` / ``cs_warm_up`` options) trains block choices at
full width only for the first epochs, then opens the allowed widths from the widest down, a little more each epoch,
until every width is sampled. Narrow channels are leading slices of wide ones, so training the wide ones first
gives the narrow ones a useful start. Every path sampler (:mod:`hwnas.search.parts.path_sampling`,
:mod:`hwnas.search.parts.strolling`) draws its widths from :func:`open_widths`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwnas.space.base import SearchSpace


@dataclass(frozen=True)
class ChannelWarmup:
    """Full widths only for ``block_epochs`` epochs, then ``open_epochs`` epochs to open every width."""

    block_epochs: int = 0
    open_epochs: int = 1

    def allowed(self, widths: tuple, epoch: int) -> tuple:
        """The widths a slot may sample at ``epoch``: the widest ``k`` of them, ``k`` growing to all."""
        if epoch < self.block_epochs:
            return widths[-1:]
        stage = epoch - self.block_epochs + 1
        k = math.ceil(len(widths) * min(1.0, stage / max(self.open_epochs, 1)))
        return widths[-max(k, 1):]


def open_widths(space: SearchSpace, warmup: ChannelWarmup | None, epoch: int) -> dict[str, tuple]:
    """Width label -> the widths ``warmup`` lets each elastic slot sample at ``epoch`` (every width without one)."""
    return {slot.width_label: warmup.allowed(slot.widths, epoch) if warmup is not None else tuple(slot.widths)
            for slot in space.slots() if slot.widths is not None}

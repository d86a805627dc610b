"""Path sampling for one-shot supernet training: uniform (SPOS), with channel warm-up, under budgets.

SPOS (Guo et al. 2019, Sec. 3.2) trains its supernet by sampling one path uniformly per step. Two refinements
from its follow-ups:

* **channel warm-up** (the SPOS-MXNet reproduction's ``epoch_start_cs`` / ``cs_warm_up``): the first epochs
  train block choices at full width only; then the allowed widths open up from the widest down, a little more
  each epoch, until every width is sampled. Narrow channels are leading slices of wide ones, so training the
  wide ones first gives the narrow ones a useful start;
* **constraint-aware sampling**: only paths that meet the budgets are trained, so the supernet's capacity goes
  where the search will look (the SPOS paper samples under its FLOPs constraint in the same spirit).

Feasible paths are drawn by rejection; when the budgets are tight and rejection keeps failing, a drawn path is
repaired by moving random decisions to cheaper values until it fits.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hwnas.search.budgets import BudgetConstraint, feasible
from hwnas.space.base import Choice, SearchSpace

REJECTION_TRIES = 200


def feasible_sampler(space: SearchSpace,
                     budgets: Sequence[BudgetConstraint]) -> Callable[[random.Random], Choice] | None:
    """Uniform draws, repaired into the budgets when rejection keeps failing (tight budgets); None without
    budgets (the strategy's own uniform draw then)."""
    if not budgets:
        return None
    return lambda rng: sample_feasible(space, rng, budgets)


def sample_feasible(space: SearchSpace, rng: random.Random, budgets: Sequence[BudgetConstraint],
                    draw=None, tries: int = REJECTION_TRIES) -> Choice:
    """A path that meets every budget: rejection sampling, then random repair (see the module docstring)."""
    draw = draw or space.sample
    choice = draw(rng)
    for _ in range(tries):
        if feasible(budgets, choice):
            return choice
        choice = draw(rng)
    return repair(space, choice, rng, budgets)


def repair(space: SearchSpace, choice: Choice, rng: random.Random, budgets: Sequence[BudgetConstraint]) -> Choice:
    """Move random decisions to cheaper values (for the most violated budget) until every budget holds."""
    choice = dict(choice)
    dims = space.dims()
    for _ in range(50 * len(dims)):
        violated = [b for b in budgets if not b.satisfied(choice)]
        if not violated:
            return choice
        worst = max(violated, key=lambda b: b.value(choice) / b.limit)
        dim = rng.choice(dims)
        here = worst.value(choice)
        # Elastic widths have up to a thousand values: try a random handful, each costs new table terms.
        values = dim.values if len(dim.values) <= 16 else rng.sample(dim.values, 16)
        cheaper = [v for v in values if v != choice[dim.label] and worst.value({**choice, dim.label: v}) < here]
        if cheaper:
            choice[dim.label] = rng.choice(cheaper)
    # Random moves did not get there (budgets pulling against each other): the exact lightest network.
    from hwnas.search.budgets import check_feasible

    fallback = check_feasible(space, budgets)
    assert fallback is not None
    return fallback


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


class PathSampler:
    """Uniform single paths for one-shot training, with optional channel warm-up and budgets."""

    def __init__(self, space: SearchSpace, budgets: Sequence[BudgetConstraint] = (),
                 warmup: ChannelWarmup | None = None, constrained: bool = False) -> None:
        self.space, self.warmup = space, warmup
        self.budgets = list(budgets) if constrained else []

    def _draw(self, rng: random.Random, epoch: int) -> Choice:
        choice = self.space.sample(rng)
        if self.warmup is not None:
            for slot in self.space.slots():
                if slot.widths is not None:
                    choice[slot.width_label] = rng.choice(self.warmup.allowed(slot.widths, epoch))
        return choice

    def sample(self, rng: random.Random, epoch: int) -> Choice:
        if not self.budgets:
            return self._draw(rng, epoch)
        return sample_feasible(self.space, rng, self.budgets, draw=lambda r: self._draw(r, epoch))

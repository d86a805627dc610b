"""Path sampling for one-shot supernet training: uniform (SPOS), with channel warm-up, under budgets; and the
factory that picks a sampler by name.

SPOS (Guo et al. 2019, Sec. 3.2) trains its supernet by sampling one path uniformly per step. Refinements from its
follow-ups:

* **channel warm-up** (:mod:`hwnas.search.parts.warmup`): full widths first, then the widths open from the widest
  down;
* **constraint-aware sampling**: only paths that meet the budgets are trained, so the supernet's capacity goes
  where the search will look (the SPOS paper samples under its FLOPs constraint in the same spirit). Feasible
  paths are drawn by rejection; when the budgets are tight and rejection keeps failing, a drawn path is repaired
  by moving random decisions to cheaper values until it fits;
* **strolling evolution** (:mod:`hwnas.search.parts.strolling`): rejection keeps the uniform distribution's shape,
  so the kept paths crowd under the limit and the cheap end of the budget region is seldom trained; the strolling
  sampler walks inside the budgets and covers their cost range evenly.

:func:`make_path_sampler` builds one by name (``uniform``, ``constrained``, ``strolling``). Every sampler has
``sample(rng, epoch) -> Choice`` and ``state_dict`` / ``load_state_dict`` for the training checkpoint. Without
budgets, ``constrained`` and ``strolling`` have no region to stay in and fall back to ``uniform`` with a logged
warning rather than an error: a run without a budget is a valid search, and a config that names a budgeted sampler
(or a default that does) should not make it fail; the older ``constrained_sampling`` flag did the same, silently.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence

from hwnas.search.budgets import BudgetConstraint, feasible
from hwnas.search.parts.strolling import StrollingSampler
from hwnas.search.parts.warmup import ChannelWarmup, open_widths
from hwnas.space.base import Choice, SearchSpace

__all__ = ["PATH_SAMPLERS", "ChannelWarmup", "PathSampler", "StrollingSampler", "feasible_sampler",
           "make_path_sampler", "open_widths", "repair", "sample_feasible"]

log = logging.getLogger(__name__)

PATH_SAMPLERS = ("uniform", "constrained", "strolling", "skip_rate")
"""The sampler kinds :func:`make_path_sampler` knows."""

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


class PathSampler:
    """Uniform single paths for one-shot training, with optional channel warm-up and budgets."""

    def __init__(self, space: SearchSpace, budgets: Sequence[BudgetConstraint] = (),
                 warmup: ChannelWarmup | None = None, constrained: bool = False) -> None:
        self.space, self.warmup = space, warmup
        self.budgets = list(budgets) if constrained else []

    def _draw(self, rng: random.Random, epoch: int) -> Choice:
        choice = self.space.sample(rng)
        if self.warmup is not None:
            for label, widths in open_widths(self.space, self.warmup, epoch).items():
                choice[label] = rng.choice(widths)
        return choice

    def sample(self, rng: random.Random, epoch: int) -> Choice:
        if not self.budgets:
            return self._draw(rng, epoch)
        return sample_feasible(self.space, rng, self.budgets, draw=lambda r: self._draw(r, epoch))

    def state_dict(self) -> dict:
        """Nothing to save: every draw comes from the caller's RNG (the same interface as the strolling sampler)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class SkipRateSampler(PathSampler):
    """Paths whose share of skipped layers is spread evenly: per path a skip rate ``r ~ U(0, 1)``, then every slot
    that offers ``skip`` takes it with probability ``r`` and otherwise one of its other candidates uniformly.

    Uniform paths of the FBNet space skip one layer in nine, so a network with half its layers skipped is almost
    never trained, and the ranking benchmark found the supernet scoring such networks lowest although they train
    well stand-alone (docs/BENCHMARKS.md, "Ranking quality"). Once-for-All samples the depth of each stage
    uniformly for the same reason; in a space that writes depth as a ``skip`` candidate, the skip rate is that
    depth. Other decisions (and spaces without ``skip``) are drawn as by :class:`PathSampler`; budgets are not
    applied (like ``uniform``).
    """

    def __init__(self, space: SearchSpace, warmup: ChannelWarmup | None = None) -> None:
        super().__init__(space, (), warmup)

    def _draw(self, rng: random.Random, epoch: int) -> Choice:
        choice = super()._draw(rng, epoch)
        rate = rng.random()
        for slot in self.space.slots():
            others = [name for name in slot.candidates if name != "skip"]
            if len(others) < len(slot.candidates):
                choice[slot.op_label] = "skip" if rng.random() < rate or not others else rng.choice(others)
        return choice


def make_path_sampler(kind: str, space: SearchSpace, budgets: Sequence[BudgetConstraint] = (),
                      warmup: ChannelWarmup | None = None) -> PathSampler | StrollingSampler:
    """The ``kind`` sampler of ``space`` under ``budgets`` with channel warm-up ``warmup``: ``uniform`` (SPOS),
    ``constrained`` (uniform, kept inside the budgets), ``strolling`` (an even walk inside them) or ``skip_rate``
    (an even spread of skipped layers, :class:`SkipRateSampler`)."""
    if kind not in PATH_SAMPLERS:
        raise ValueError(f"unknown path sampler {kind!r}; valid: {', '.join(PATH_SAMPLERS)}")
    if kind == "skip_rate":
        return SkipRateSampler(space, warmup)
    if kind != "uniform" and not budgets:
        log.warning("path sampler %r keeps paths inside the budgets, but no budget is set: sampling uniformly",
                    kind)
        kind = "uniform"
    if kind == "strolling":
        return StrollingSampler(space, budgets, warmup)
    return PathSampler(space, budgets, warmup, constrained=kind == "constrained")

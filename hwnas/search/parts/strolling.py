"""Strolling evolution: one-shot training paths from a constrained random walk that covers the budget region evenly.

The SPOS reimplementation in MXNet ("Single Path One-Shot NAS MXNet", its "Supernet Training - With Strolling
Evolution Constraints"; seed 003) trains the supernet only where the search will look, and evenly there. SPOS
(Guo et al. 2019, Sec. 3.2) samples single paths uniformly; under a budget about two thirds of them lie outside
the region the search explores, and rejection sampling, which keeps only the feasible ones, keeps the uniform
distribution's shape too: the kept paths crowd just under the limit and the region's cheap end is seldom or never
trained (docs/BENCHMARKS.md, "Path samplers: coverage of the budget region").

What the reference does (its candidate-pool maintainer): 5 parents breed 10 children per draw (uniform crossover,
each gene resampled with probability 0.1), keeping only children whose FLOPs fall in a window a seventh of the
FLOPs range wide; the window sweeps from the upper FLOPs limit to the lower one and back, a fixed number of draws
per window, while a parameter-count target sweeps inside each window; the drawn child is picked by its
parameter rank and the first 5 children become the next parents.

What :class:`StrollingSampler` does, one path per training step, under any set of budgets:

* the **walker** is one feasible path. Each draw makes ``proposals`` neighbours of it, each with 1 to
  ``max_mutations`` live decisions (ops and widths of active slots, stage depths) moved to another value (widths
  only to those the channel warm-up has opened), keeps those that meet every budget, and moves to one of them;
* the **steering** is over the main budget's cost (the first budget, i.e. latency when it is given): ``bins``
  equal bins from the lightest feasible cost reachable at the open widths up to the limit. The walker aims at the
  least-visited bin (ties: the one nearest its own bin, then the cheaper) and keeps that aim until it has drawn
  ``dwell`` paths inside it, as the reference spends a fixed number of draws per FLOPs window. Each draw moves to
  a random proposal inside the aimed bin, else to the proposal nearest to it among those closer than the walker,
  proposing more rounds until one is (the reference breeds children until enough fall in its window). Counting
  visits, rather than following the reference's fixed sweep, also counts the draws spent crossing intermediate
  bins, so the histogram evens out; the dwell keeps those crossings few (with ``dwell`` 1 the walk spends most of
  its draws travelling toward the hard-to-reach cheap end: on the FBNet space at 28 px, width 0.5, under 4.8M
  MACs, the cheapest fifth of the range then got 33-35 % of 2000 draws (seeds 0, 1), 20-21 % with ``dwell`` 10);
* a bin aimed at for ``patience`` draws in a row without being entered is **retired** (e.g. the top bins of a
  MACs budget when a params budget binds first), so an unreachable bin cannot hold the walk;
* when the warm-up opens more widths the range and the counts **restart**: each warm-up phase covers its own
  reachable range. If no network meets the budgets at the open widths, the widths are left free (budgets win over
  the warm-up, as in :class:`~hwnas.search.parts.path_sampling.PathSampler`'s repair).

Only the main cost is steered (the reference also sweeps params); the other budgets are constraints. All
randomness comes from the caller's RNG and the rest of the state (walker, visit counts, retired bins) is
:meth:`StrollingSampler.state_dict`, so a resumed run draws the same paths as an uninterrupted one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from hwnas.search.budgets import BudgetConstraint, check_feasible, feasible
from hwnas.search.parts.warmup import ChannelWarmup, open_widths
from hwnas.space.base import Choice, SearchSpace
from hwnas.space.labels import depth_label

PROPOSAL_ROUNDS = 20
"""Rounds of ``proposals`` neighbours tried before the walker restarts from the lightest path (a walker whose
every neighbour breaks a budget)."""


class StrollingSampler:
    """Feasible single paths from a random walk steered to cover the main budget's cost range evenly (module doc)."""

    def __init__(self, space: SearchSpace, budgets: Sequence[BudgetConstraint], warmup: ChannelWarmup | None = None,
                 bins: int = 10, proposals: int = 8, max_mutations: int = 3, dwell: int = 10,
                 patience: int = 50, main: str | None = None) -> None:
        if not budgets:
            raise ValueError("the strolling sampler walks inside the budgets: give at least one budget")
        if min(bins, proposals, max_mutations, dwell, patience) < 1:
            raise ValueError("bins, proposals, max_mutations, dwell and patience must be at least 1")
        keys = [b.key for b in budgets]
        if main is not None and main not in keys:
            raise ValueError(f"main budget {main!r} is not among the budgets: {', '.join(keys)}")
        self.space, self.budgets, self.warmup = space, list(budgets), warmup
        self.main = budgets[keys.index(main)] if main is not None else budgets[0]
        self.bins, self.proposals, self.max_mutations = bins, proposals, max_mutations
        self.dwell, self.patience = dwell, patience
        self._values = {d.label: d.values for d in space.dims()}
        self._range: tuple[Any, dict[str, tuple] | None, Choice, float] | None = None  # derived, not saved
        self.walker: Choice | None = None
        self.counts = [0] * bins
        self.retired: set[int] = set()
        self._aimed, self._dwell_left, self._missed, self._key = None, 0, 0, None

    # ------------------------------------------------------------------------------------------ drawing
    def sample(self, rng: random.Random, epoch: int) -> Choice:
        """The next path: the walker after one step toward the least-visited bin (see the module docstring)."""
        allowed, floor, low = self._phase(epoch)
        if self.walker is None or not self._is_open(self.walker, allowed):
            self.walker = dict(floor)
        if self._aimed is None or self._dwell_left <= 0:
            self._aimed = self._target(self.bin_of(self.main.value(self.walker), low))
            self._dwell_left, self._missed = self.dwell, 0
        self.walker = self._step(rng, allowed, floor, self._bounds(self._aimed, low))
        here = self.bin_of(self.main.value(self.walker), low)
        self.counts[here] += 1
        if here == self._aimed:
            self._dwell_left, self._missed = self._dwell_left - 1, 0
        else:
            self._missed += 1
        if self._missed >= self.patience:  # this bin is out of the walker's reach: stop aiming at it
            self.retired.add(self._aimed)
            self._aimed = None
        return dict(self.walker)

    def _step(self, rng: random.Random, allowed: dict[str, tuple] | None, floor: Choice,
              bounds: tuple[float, float]) -> Choice:
        """A feasible neighbour inside the target bin, else one closer to it than the walker (more rounds of
        proposals until one is found, as the reference breeds children until enough fall in its window), else
        the nearest neighbour found."""
        assert self.walker is not None
        lo, hi = bounds

        def gap(cost: float) -> float:  # how far a cost lies outside the aimed bin
            return max(lo - cost, cost - hi, 0.0)

        here, seen = gap(self.main.value(self.walker)), []
        for _ in range(PROPOSAL_ROUNDS):
            options = []
            for _ in range(self.proposals):
                proposal = self._propose(rng, allowed)
                if proposal != self.walker and feasible(self.budgets, proposal):
                    options.append((proposal, gap(self.main.value(proposal))))
            inside = [p for p, g in options if g == 0.0]
            closer = [p for p, g in options if g < here]
            if inside or closer:
                return rng.choice(inside) if inside else min(options, key=lambda pg: pg[1])[0]
            seen += options
        if seen:
            return min(seen, key=lambda pg: pg[1])[0]
        return dict(floor)  # every neighbour broke a budget: start again from the lightest path

    def _propose(self, rng: random.Random, allowed: dict[str, tuple] | None) -> Choice:
        """The walker with 1 to ``max_mutations`` live decisions moved to another allowed value."""
        assert self.walker is not None
        live = self._live(self.walker, allowed)
        proposal = dict(self.walker)
        if not live:
            return proposal
        for label, values in rng.sample(live, rng.randint(1, min(self.max_mutations, len(live)))):
            proposal[label] = rng.choice([v for v in values if v != self.walker[label]])
        return proposal

    def _live(self, choice: Choice, allowed: dict[str, tuple] | None) -> list[tuple[str, tuple]]:
        """The decisions that change the network (not those of slots a depth drops), with their allowed values."""
        labels = []
        for slot in self.space.active_slots(choice):
            labels.append(slot.op_label)
            if slot.widths is not None:
                labels.append(slot.width_label)
        labels += [depth_label(stage) for stage in self.space.min_depth]
        live = [(label, (allowed or {}).get(label, self._values[label])) for label in labels]
        return [(label, values) for label, values in live if len(values) > 1]

    # ------------------------------------------------------------------------------------------ bins
    def bin_of(self, cost: float, low: float) -> int:
        """The bin of ``cost`` among ``bins`` equal bins from ``low`` to the main budget's limit (clamped)."""
        width = (self.main.limit - low) / self.bins
        if width <= 0:
            return 0
        return min(max(int((cost - low) / width), 0), self.bins - 1)

    def _bounds(self, index: int, low: float) -> tuple[float, float]:
        width = (self.main.limit - low) / self.bins
        return low + index * width, low + (index + 1) * width

    def _target(self, here: int) -> int:
        """The least-visited bin not retired; ties: nearest to ``here``, then the cheaper."""
        open_bins = [i for i in range(self.bins) if i not in self.retired] or list(range(self.bins))
        return min(open_bins, key=lambda i: (self.counts[i], abs(i - here), i))

    # ------------------------------------------------------------------------------------------ warm-up phases
    def _phase(self, epoch: int) -> tuple[dict[str, tuple] | None, Choice, float]:
        """The open widths (None: all), the lightest feasible path and its main cost, at ``epoch``; a new warm-up
        phase restarts the visit counts."""
        key = tuple(len(v) for v in open_widths(self.space, self.warmup, epoch).values())
        if key != self._key:
            self._key, self.counts, self.retired, self._aimed = key, [0] * self.bins, set(), None
        if self._range is None or self._range[0] != key:
            allowed = open_widths(self.space, self.warmup, epoch) if self.warmup is not None else None
            floor = self._lightest_feasible(allowed)
            if floor is None:  # nothing fits at the open widths: budgets win over the warm-up
                allowed, floor = None, self._lightest_feasible(None)
            if floor is None:
                floor = check_feasible(self.space, self.budgets)  # raises, naming the conflicting budgets
            self._range = (key, allowed, floor, self.main.value(floor))
        return self._range[1], self._range[2], self._range[3]

    def _lightest_feasible(self, allowed: dict[str, tuple] | None) -> Choice | None:
        """Of each budget's lightest path at the open widths, the feasible one of least main cost (exact for the
        main budget alone; with several, its cost is the floor the walk is sure to reach)."""
        found = [c for c in (b.separable.lightest(allowed=allowed) for b in self.budgets) if feasible(self.budgets, c)]
        return min(found, key=self.main.value) if found else None

    def _is_open(self, choice: Choice, allowed: dict[str, tuple] | None) -> bool:
        return allowed is None or all(choice[label] in widths for label, widths in allowed.items())

    # ------------------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The walk's state (the RNG is the caller's and saved with it)."""
        return {"walker": None if self.walker is None else dict(self.walker), "counts": list(self.counts),
                "retired": sorted(self.retired), "aimed": self._aimed, "dwell_left": self._dwell_left,
                "missed": self._missed, "phase": None if self._key is None else list(self._key)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["counts"]) != self.bins:
            raise ValueError(f"strolling state has {len(state['counts'])} bins, this sampler {self.bins}")
        walker = state["walker"]
        if walker is not None and not self.space.contains(walker):
            raise ValueError("the strolling state's walker is not a path of this space")
        self.walker = None if walker is None else dict(walker)
        self.counts, self.retired = [int(c) for c in state["counts"]], {int(i) for i in state["retired"]}
        self._aimed, self._dwell_left, self._missed = state["aimed"], int(state["dwell_left"]), int(state["missed"])
        self._key = None if state["phase"] is None else tuple(state["phase"])
        self._range = None

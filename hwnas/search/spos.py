"""Single Path One-Shot: a uniformly trained supernet searched by evolution under constraints (Guo et al. 2019).

Supernet training samples one path per step uniformly over blocks and channel widths (Sec. 3.2, with the
channel warm-up of :mod:`hwnas.search.sampling` and, optionally, only paths inside the budgets); the search is
the evolutionary algorithm of Sec. 3.3 (:class:`~hwnas.search.evolution.EvolutionSearch`) on the trained
supernet, each candidate scored by validation top-1 after BN recalibration, every candidate inside every budget.
The two phases are in :mod:`hwnas.search.oneshot`, shared with the random baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwnas.search.budgets import Budgets
from hwnas.search.context import SearchContext
from hwnas.search.evolution import EvolutionSearch
from hwnas.search.oneshot import OneShotConfig, run_oneshot
from hwnas.search.sampling import sample_feasible


def feasible_sampler(ctx: SearchContext):
    """Uniform draws, repaired into the budgets when rejection keeps failing (tight budgets)."""
    if not ctx.constraints:
        return None
    return lambda rng: sample_feasible(ctx.space, rng, ctx.constraints)


def run_spos(ctx: SearchContext, budgets: Budgets, cfg: OneShotConfig,
             from_supernet: Path | None = None) -> dict[str, Any]:
    def strategy(feasible, seed):
        return EvolutionSearch(ctx.space, feasible, cfg.evolution, seed, sampler=feasible_sampler(ctx))

    return run_oneshot(ctx, "spos", budgets, cfg, strategy, from_supernet)

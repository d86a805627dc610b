"""Single Path One-Shot: a uniformly trained supernet searched by evolution under constraints (Guo et al. 2019).

Supernet training samples one path per step uniformly over blocks and channel widths (Sec. 3.2, with the
channel warm-up of :mod:`hwnas.search.parts.path_sampling` and, optionally, only paths inside the budgets); the
search is the evolutionary algorithm of Sec. 3.3 (:class:`~hwnas.search.parts.evolution.EvolutionSearch`) on the
trained supernet, each candidate scored by validation top-1 after BN recalibration, every candidate inside every
budget.
The two phases are in :mod:`hwnas.search.parts.oneshot`, shared with the random baseline.
"""

from __future__ import annotations

from hwnas.search.context import SearchContext
from hwnas.search.method import SearchMethod
from hwnas.search.parts.evolution import EvolutionSearch
from hwnas.search.parts.oneshot import OneShotConfig, run_oneshot
from hwnas.search.parts.path_sampling import feasible_sampler
from hwnas.search.registry import register
from hwnas.search.result import SearchResult


def run_spos(ctx: SearchContext) -> SearchResult:
    """SPOS on ``ctx`` with ``ctx.config`` (a :class:`~hwnas.search.parts.oneshot.OneShotConfig`)."""
    cfg = ctx.config

    def strategy(feasible, seed):
        return EvolutionSearch(ctx.space, feasible, cfg.evolution, seed,
                               sampler=feasible_sampler(ctx.space, ctx.constraints))

    return run_oneshot(ctx, "spos", strategy)


@register
class SPOS(SearchMethod):
    name = "spos"
    summary = "uniform single-path supernet (blocks and channels), then evolutionary search under the budgets"
    config_class = OneShotConfig
    reuses_supernet = True

    def run(self, ctx: SearchContext) -> SearchResult:
        return run_spos(ctx)

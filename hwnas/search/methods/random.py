"""The random-search baseline: the SPOS supernet and scoring, with candidates drawn at random.

Every method must beat this (Li & Talwalkar 2019, "Random Search and Reproducibility for NAS"): the same uniformly
trained supernet, the same BN-recalibrated validation score, the same budgets, and as many candidates as the
evolutionary search scores (``random_candidates``, default its budget), drawn uniformly from the feasible set
(by rejection; by repair when the budgets are so tight that rejection keeps failing).
"""

from __future__ import annotations

from hwnas.search.context import SearchContext
from hwnas.search.method import SearchMethod
from hwnas.search.parts.evolution import RandomSearch
from hwnas.search.parts.oneshot import OneShotConfig, run_oneshot
from hwnas.search.parts.path_sampling import feasible_sampler
from hwnas.search.registry import register
from hwnas.search.result import SearchResult


def run_random(ctx: SearchContext) -> SearchResult:
    """Random search on ``ctx`` with ``ctx.config`` (a :class:`~hwnas.search.parts.oneshot.OneShotConfig`)."""
    cfg = ctx.config
    total = cfg.random_candidates or cfg.evolution.budget

    def strategy(feasible, seed):
        return RandomSearch(ctx.space, feasible, total=total, batch=cfg.evolution.population, seed=seed,
                            sampler=feasible_sampler(ctx.space, ctx.constraints))

    return run_oneshot(ctx, "random", strategy)


@register
class RandomBaseline(SearchMethod):
    name = "random"
    summary = "baseline: the SPOS supernet and scoring, candidates drawn uniformly from the feasible set"
    config_class = OneShotConfig
    reuses_supernet = True

    def run(self, ctx: SearchContext) -> SearchResult:
        return run_random(ctx)

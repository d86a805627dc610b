"""The random-search baseline (Li & Talwalkar 2019) as a registered search method (:mod:`hwnas.search.random`)."""

from __future__ import annotations

from typing import Any

from hwnas.search.method import SearchMethod
from hwnas.search.oneshot import OneShotConfig
from hwnas.search.random import run_random
from hwnas.search.registry import register


@register
class RandomSearch(SearchMethod):
    name = "random"
    summary = "baseline: the SPOS supernet and scoring, candidates drawn uniformly from the feasible set"
    config_class = OneShotConfig
    reuses_supernet = True

    def run(self, ctx: Any) -> Any:
        return run_random(ctx, ctx.budgets, ctx.config, ctx.from_supernet)

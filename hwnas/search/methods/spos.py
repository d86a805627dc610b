"""Single Path One-Shot (Guo et al., ECCV 2020) as a registered search method (:mod:`hwnas.search.spos`)."""

from __future__ import annotations

from typing import Any

from hwnas.search.method import SearchMethod
from hwnas.search.oneshot import OneShotConfig
from hwnas.search.registry import register
from hwnas.search.spos import run_spos


@register
class SPOS(SearchMethod):
    name = "spos"
    summary = "uniform single-path supernet (blocks and channels), then evolutionary search under the budgets"
    config_class = OneShotConfig
    reuses_supernet = True

    def run(self, ctx: Any) -> Any:
        return run_spos(ctx, ctx.budgets, ctx.config, ctx.from_supernet)

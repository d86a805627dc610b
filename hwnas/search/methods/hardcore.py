"""HardCoRe-NAS (Nayman et al., ICML 2021) as a registered search method (:mod:`hwnas.search.hardcore`)."""

from __future__ import annotations

from typing import Any

from hwnas.search.hardcore import HardCoReConfig, run_hardcore
from hwnas.search.method import SearchMethod
from hwnas.search.registry import register


@register
class HardCoRe(SearchMethod):
    name = "hardcore"
    summary = "heaviest-net pretraining and in-place KD, then Block-Coordinate Frank-Wolfe under a hard constraint"
    config_class = HardCoReConfig
    searches_widths = False
    reuses_supernet = True

    def run(self, ctx: Any) -> Any:
        return run_hardcore(ctx, ctx.budgets, ctx.config, ctx.from_supernet)

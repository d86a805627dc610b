"""FBNet (Wu et al., CVPR 2019) as a registered search method; the algorithm is :mod:`hwnas.search.fbnet`."""

from __future__ import annotations

from typing import Any

from hwnas.search.fbnet import FBNetConfig, run_fbnet
from hwnas.search.method import SearchMethod
from hwnas.search.registry import register


@register
class FBNet(SearchMethod):
    name = "fbnet"
    summary = "DNAS: Gumbel-softmax over per-layer candidates, loss CE * alpha * log(LAT)^beta with the latency table"
    config_class = FBNetConfig
    searches_widths = False

    def run(self, ctx: Any) -> Any:
        return run_fbnet(ctx, ctx.budgets, ctx.config)

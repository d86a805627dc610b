"""TF-NAS (Hu et al., ECCV 2020) as a registered search method; the algorithm is :mod:`hwnas.search.tfnas`."""

from __future__ import annotations

from typing import Any

from hwnas.search.method import SearchMethod
from hwnas.search.registry import register
from hwnas.search.tfnas import TFNASConfig, run_tfnas


@register
class TFNAS(SearchMethod):
    name = "tfnas"
    summary = "bi-sampling, sink-connecting depth, elasticity-scaled widths to hit a latency target precisely"
    config_class = TFNASConfig
    needs_latency_target = True

    def run(self, ctx: Any) -> Any:
        return run_tfnas(ctx, ctx.budgets, ctx.config)

"""The proxy accuracy every method reports for its result: the chosen network's top-1 on the architecture split,
run as a path of the trained supernet after recalibrating that path's batch norm (SPOS, Guo et al. 2019,
Sec. 3.3), the score spos and random search rank their candidates by. FBNet, TF-NAS and HardCoRe-NAS choose by
their distributions, not by this score; it is reported so that results of every method can be compared on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwnas.search.context import SearchContext
from hwnas.search.parts.engine import batches, score_choice
from hwnas.supernet import Supernet

RECAL_BATCHES = 8  # weight-split batches for the path's BN statistics (OneShotConfig.recal_batches)


def proxy_top1(ctx: SearchContext, supernet: Supernet, choice: Mapping[str, Any],
               recal_batches: int = RECAL_BATCHES) -> float:
    """Arch-split top-1 (%) of ``choice`` as a path of ``supernet`` (its BN recalibrated on the weight split)."""
    calibration = batches(ctx.loaders.train, recal_batches)
    return score_choice(supernet, choice, calibration, ctx.loaders.val, ctx.device, ctx.use_channels_last)


def described(ctx: SearchContext, choice: Mapping[str, Any], supernet: Supernet | None = None) -> dict[str, Any]:
    """``choice`` as ``result.json`` describes a network (arch text, predicted latency, costs), with its proxy
    top-1 when ``supernet`` is given."""
    from hwnas.search.result import describe_choice

    out = describe_choice(ctx.space, choice, ctx.latency)
    if supernet is not None:
        out["supernet_val_top1"] = proxy_top1(ctx, supernet, choice)
    return out

"""The outcome of a search, written as ``result.json``: the architecture, its costs, the budgets, the history.

``arch`` is the one-line text every other command takes (``hwnas train``, ``hwnas export``, ``hwnas latency``);
``choice`` is the same network as the space's label -> value dict. Costs are exact for the chosen network:
``predicted_latency_ms`` from the latency table (calibrated when the table is), ``params`` and ``macs`` from the
analytic counts at the search's geometry, ``peak_memory_mb`` the modelled peak activation memory at batch 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hwnas.arch import encode
from hwnas.cost import count_macs, count_params, peak_activation_bytes
from hwnas.cost.models import MIB
from hwnas.fileio import write_json_atomic
from hwnas.search.budgets import BudgetConstraint
from hwnas.search.context import SearchContext
from hwnas.space.base import SearchSpace

RESULT_NAME = "result.json"
FORMAT = "hwnas-search-result"


def describe_choice(space: SearchSpace, choice: Mapping[str, Any], latency: Any = None) -> dict[str, Any]:
    """The arch text and exact costs of one choice of ``space``."""
    spec = space.to_spec(choice)
    g = space.geometry
    return {
        "arch": encode(spec),
        "choice": dict(choice),
        "predicted_latency_ms": None if latency is None else float(latency.predict(spec)),
        "params": count_params(spec, num_classes=g.num_classes, in_channels=g.in_channels),
        "macs": count_macs(spec, g.input_size, num_classes=g.num_classes, in_channels=g.in_channels),
        "peak_memory_mb": peak_activation_bytes(spec, g.input_size, in_channels=g.in_channels) / MIB,
    }


def budget_report(budgets: Sequence[BudgetConstraint], choice: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per budget: limit, the chosen network's value (user units) and whether it holds (predicted)."""
    return {b.key: {"limit": b.limit * b.scale, "value": b.value(choice) * b.scale, "met": b.satisfied(choice),
                    "cost": b.describe()} for b in budgets}


def build_result(ctx: SearchContext, method: str, choice: Mapping[str, Any], *,
                 config: Mapping[str, Any], history: Any, extra: Mapping[str, Any] | None = None,
                 samples: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    g = ctx.space.geometry
    result = {
        "format": FORMAT, "version": 1, "method": method, "space": ctx.space.name,
        "geometry": {"input_size": g.input_size, "in_channels": g.in_channels, "num_classes": g.num_classes,
                     "width_mult": g.width_mult},
        **describe_choice(ctx.space, choice, ctx.latency),
        "budgets": ctx.budgets.to_dict(),
        "budgets_met": budget_report(ctx.constraints, choice),
        "lut": None if ctx.latency is None else {"path": str(ctx.latency.path) if ctx.latency.path else None,
                                                 "description": ctx.latency.description},
        "seed": ctx.seed,
        "search_time_s": round(ctx.elapsed, 2),
        "config": dict(config),
        "samples": [describe_choice(ctx.space, s, ctx.latency) for s in samples],
        "history": history,
    }
    if extra:
        result.update(extra)
    return result


def write_result(out_dir: Path, result: Mapping[str, Any]) -> Path:
    path = Path(out_dir) / RESULT_NAME
    write_json_atomic(path, result)
    return path

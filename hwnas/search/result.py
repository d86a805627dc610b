"""The outcome of a search, :class:`SearchResult`, written as ``result.json``: the architecture, its costs, the
budgets, the history.

``arch`` is the one-line text every other command takes (``hwnas train``, ``hwnas export``, ``hwnas latency``);
``choice`` is the same network as the space's label -> value dict. Costs are exact for the chosen network:
``predicted_latency_ms`` from the latency table (calibrated when the table is), ``params`` and ``macs`` from the
analytic counts at the search's geometry, ``peak_memory_mb`` the modelled peak activation memory at batch 1.
What only one method reports (FBNet's ``argmax_choice``, SPOS's ``supernet_val_top1``, ...) is in ``extra``;
the JSON form lists those keys at the top level, after ``history``, as files have always had them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass(eq=False)  # equality is the Mapping's: equal to any mapping with the same JSON keys and values
class SearchResult(Mapping[str, Any]):
    """One search's outcome; its JSON form (:meth:`to_json`) is ``result.json``.

    Fields are named as the JSON keys; besides attributes, a result reads as a mapping of its JSON form
    (``result["arch"]``, ``result.get("finetune")``, ``"samples" in result``), so code written against the
    dict it used to be keeps working.
    """

    method: str
    space: str  # the space's name (or YAML path)
    geometry: dict[str, Any]  # input_size, in_channels, num_classes, width_mult
    arch: str
    choice: dict[str, Any]
    predicted_latency_ms: float | None
    params: int
    macs: int
    peak_memory_mb: float
    budgets: dict[str, Any]  # the user's budgets (Budgets.to_dict())
    budgets_met: dict[str, dict[str, Any]]  # per hard constraint: limit, value, met, cost
    lut: dict[str, Any] | None
    seed: int
    search_time_s: float
    config: dict[str, Any]  # the method's config as a dict
    samples: list[dict[str, Any]]  # further architectures drawn at the end (describe_choice each)
    history: Any  # the method's own trace: per-epoch probabilities, BCFW steps, scored rounds, ...
    extra: dict[str, Any] = field(default_factory=dict)  # method-specific keys, top-level in the JSON form
    dataset: str | None = None  # set by search(): what the search ran on
    limit: int | None = None
    batch_size: int | None = None
    measured_check: dict[str, Any] | None = None  # set by `hwnas search --check-measured`; absent when None
    format: str = FORMAT
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        """The ``result.json`` form: keys in the order files have always had them."""
        out = {key: getattr(self, key) for key in _HEAD_KEYS}
        out.update(self.extra)
        out.update({key: getattr(self, key) for key in _TAIL_KEYS})
        if self.measured_check is not None:
            out["measured_check"] = self.measured_check
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchResult:
        """A result from its JSON form; keys a newer version added and an older file lacks read as None."""
        if data.get("format", FORMAT) != FORMAT:
            raise ValueError(f"not a search result: format {data.get('format')!r}, expected {FORMAT!r}")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {key: data.get(key) for key in known if key in data or key not in _DEFAULTED}
        extra = {key: value for key, value in data.items() if key not in known}
        return cls(**values, extra=extra)

    @classmethod
    def load(cls, path: str | Path) -> SearchResult:
        """Read ``path`` (a ``result.json``, or the directory holding one)."""
        path = Path(path)
        if path.is_dir():
            path = path / RESULT_NAME
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        if key in _HEAD_KEYS or key in _TAIL_KEYS or (key == "measured_check" and self.measured_check is not None):
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())


_HEAD_KEYS = ("format", "version", "method", "space", "geometry", "arch", "choice", "predicted_latency_ms",
              "params", "macs", "peak_memory_mb", "budgets", "budgets_met", "lut", "seed", "search_time_s", "config",
              "samples", "history")
_TAIL_KEYS = ("dataset", "limit", "batch_size")
_DEFAULTED = {f.name for f in dataclasses.fields(SearchResult)
              if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}


def build_result(ctx: SearchContext, method: str, choice: Mapping[str, Any], *, config: Mapping[str, Any],
                 history: Any, extra: Mapping[str, Any] | None = None,
                 samples: Sequence[Mapping[str, Any]] = ()) -> SearchResult:
    """The result of a search of ``ctx`` that chose ``choice`` (its costs computed here)."""
    g = ctx.space.geometry
    return SearchResult(
        method=method, space=ctx.space.name,
        geometry={"input_size": g.input_size, "in_channels": g.in_channels, "num_classes": g.num_classes,
                  "width_mult": g.width_mult},
        **describe_choice(ctx.space, choice, ctx.latency),
        budgets=ctx.budgets.to_dict(),
        budgets_met=budget_report(ctx.constraints, choice),
        lut=None if ctx.latency is None else {"path": str(ctx.latency.path) if ctx.latency.path else None,
                                              "description": ctx.latency.description},
        seed=ctx.seed,
        search_time_s=round(ctx.elapsed, 2),
        config=dict(config),
        samples=[describe_choice(ctx.space, s, ctx.latency) for s in samples],
        history=history,
        extra=dict(extra or {}),
    )


def write_result(out_dir: Path, result: SearchResult | Mapping[str, Any]) -> Path:
    """Write ``out_dir/result.json`` atomically."""
    path = Path(out_dir) / RESULT_NAME
    write_json_atomic(path, result.to_json() if isinstance(result, SearchResult) else dict(result))
    return path

"""Budgets: the user's limits on latency, params, MACs and memory, as hard constraints every method can check.

``--max-latency-ms``, ``--max-params``, ``--max-macs`` and ``--max-memory-mb`` in any combination become one
:class:`~hwnas.cost.models.Constraint` each, over the cost model that measures it (the latency table, or the
analytic counts at the space's geometry). Before any training, :func:`check_feasible` compares each limit with
the smallest value the space can reach and fails at once, naming that value: HardCoRe-NAS and the DNAS
reproductions find out only after hours of supernet training that a target was out of reach.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hwnas.cost.models import MIB, AnalyticCost, Constraint, CostModel, MicroNetCost
from hwnas.cost.separable import SeparableCost
from hwnas.space.base import Choice, SearchSpace


class InfeasibleBudgetError(ValueError):
    """No architecture of the space meets a budget (the message names the smallest achievable value)."""


@dataclass(frozen=True)
class Budgets:
    """Upper limits; ``None`` means no limit on that cost."""

    max_latency_ms: float | None = None  # predicted by the latency table (calibrated when it is)
    max_params: float | None = None  # all parameters, BN included
    max_macs: float | None = None  # conv + linear + SE multiply-accumulates
    max_memory_mb: float | None = None  # modelled peak activation memory at batch 1, MiB
    max_micronet_score: float | None = None  # MicroNet Challenge score, ImageNet reference, 32-bit

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value > 0):
                raise ValueError(f"--{name.replace('_', '-')} must be a positive number, got {value!r}")

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budgets:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown budget {unknown[0]!r}; valid: {', '.join(cls.__dataclass_fields__)}")
        return cls(**data)

    @property
    def empty(self) -> bool:
        return all(v is None for v in asdict(self).values())


@dataclass(frozen=True)
class Budget:
    """One hard constraint with its separable view (for fast checks on choices)."""

    key: str  # the Budgets field
    constraint: Constraint
    separable: SeparableCost
    scale: float = 1.0  # user units per cost unit (bytes -> MiB for memory)

    @property
    def limit(self) -> float:
        return self.constraint.limit

    def value(self, choice: Mapping[str, Any]) -> float:
        return self.separable.cost(choice)

    def satisfied(self, choice: Mapping[str, Any]) -> bool:
        return self.value(choice) <= self.limit * (1 + 1e-9)

    def describe(self) -> str:
        return self.constraint.description


def make_budgets(budgets: Budgets, space: SearchSpace, latency: CostModel | None = None) -> list[Budget]:
    """The hard constraints ``budgets`` sets on ``space``; a latency limit needs the latency table."""
    out = []
    if budgets.max_latency_ms is not None:
        if latency is None:
            raise ValueError("--max-latency-ms needs a latency table: pass --lut FILE (build one with "
                             "`hwnas lut build --space SPACE --input-size N`)")
        out.append(_budget("max_latency_ms", latency, budgets.max_latency_ms, space))
    for key, metric, factor in (("max_params", "params", 1.0), ("max_macs", "macs", 1.0),
                                ("max_memory_mb", "peak_bytes", MIB)):
        limit = getattr(budgets, key)
        if limit is not None:
            out.append(_budget(key, AnalyticCost.for_space(metric, space), limit * factor, space, 1 / factor))
    if budgets.max_micronet_score is not None:
        out.append(_budget("max_micronet_score", MicroNetCost.for_space(space), budgets.max_micronet_score, space))
    return out


def _budget(key: str, model: CostModel, limit: float, space: SearchSpace, scale: float = 1.0) -> Budget:
    return Budget(key, Constraint(model, float(limit)), SeparableCost(model, space), scale)


def check_feasible(space: SearchSpace, budgets: Sequence[Budget], largest_widths: bool = False) -> Choice | None:
    """Raise :class:`InfeasibleBudgetError` if a budget is below the smallest value the space reaches; return a
    choice that meets every budget at once (``None`` if there are no budgets).

    Each cost's minimum is exact (:meth:`SeparableCost.lightest`); together the budgets may still conflict, in
    which case the error names the lightest networks tried. ``largest_widths``: for methods that keep every
    elastic width at its largest (they search ops and depth only).
    """
    at = " with every width at its largest (this method does not search widths)" if largest_widths else ""
    if not budgets:
        return None
    for b in budgets:
        low = b.separable.minimum(largest_widths)
        if low > b.limit * (1 + 1e-9):
            raise InfeasibleBudgetError(
                f"no architecture of space {space.name!r} meets {b.key.replace('_', '-')} "
                f"{_fmt(b.limit * b.scale)}: the smallest achievable is {_fmt(low * b.scale)}"
                f"{at} ({b.describe()})")
    for b in budgets:  # the lightest network of each cost often meets the others too
        choice = b.separable.lightest(largest_widths)
        if all(other.satisfied(choice) for other in budgets):
            return choice
    shown = "; ".join(f"{b.key}: lightest by it costs " + ", ".join(
        f"{o.key}={_fmt(o.value(b.separable.lightest(largest_widths)) * o.scale)}" for o in budgets) for b in budgets)
    raise InfeasibleBudgetError(f"the budgets conflict in space {space.name!r}: no network found that meets all "
                                f"of them ({shown})")


def feasible(budgets: Sequence[Budget], choice: Mapping[str, Any]) -> bool:
    return all(b.satisfied(choice) for b in budgets)


def costs_of(budgets: Sequence[Budget], choice: Mapping[str, Any]) -> dict[str, float]:
    """Budget key -> value of ``choice`` in the budget's user units."""
    return {b.key: b.value(choice) * b.scale for b in budgets}


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"

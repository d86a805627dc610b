"""Budgets: the user's limits on latency, params, MACs, memory and MicroNet score, as hard constraints every
method can check.

:data:`BUDGET_KINDS` is the one table of budget kinds: for each, its name (the :class:`Budgets` field, the key of
``result.json``'s ``budgets_met`` and of ``hwnas run``'s ``budgets`` section), CLI flag and help, the units it is
shown in, the scale from those units to the cost model's, the cost model that measures it (the latency table, or
the analytic counts at the space's geometry) and how the run checks it at the end. The ``hwnas search`` flags,
the run config, the run's report and :func:`make_budgets` all read it: a new kind of budget is one entry here
plus its cost model.

Given limits become one :class:`BudgetConstraint` each (a :class:`~hwnas.cost.models.Constraint` over that cost
model, with its separable view). Before any training, :func:`check_feasible` compares each limit with the
smallest value the space can reach and fails at once, naming that value: HardCoRe-NAS and the DNAS
reproductions find out only after hours of supernet training that a target was out of reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, make_dataclass
from typing import Any

from hwnas.cost.models import MIB, AnalyticCost, Constraint, CostModel, MicroNetCost, micronet_score
from hwnas.cost.separable import SeparableCost
from hwnas.space.base import Choice, SearchSpace


@dataclass(frozen=True)
class BudgetKind:
    """One kind of budget, everything the CLI, the run config, the search and the report need to know of it."""

    name: str  # the Budgets field, e.g. "max_params"; the CLI flag is --max-params
    help: str  # the CLI flag's help
    units: str  # the units the limit is given and shown in ("ms", "MiB")
    phrase: str  # a limit in words: "<= 5 {phrase}"
    scale: float  # cost-model units per user unit (bytes per MiB for memory)
    cost_model: Callable[[SearchSpace, CostModel | None], CostModel]  # (space, latency table) -> what measures it
    value: Callable[[Mapping[str, Any]], float | None]  # its value in a search result, in user units
    checked: str  # how a run checks the final network: "measured" on the target, "exact" or "modelled"

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _latency_table(space: SearchSpace, table: CostModel | None) -> CostModel:
    if table is None:
        raise ValueError("--max-latency-ms needs a latency table: pass --lut FILE (build one with "
                         "`hwnas lut build --space SPACE --input-size N`)")
    return table


def _analytic(metric: str) -> Callable[[SearchSpace, CostModel | None], CostModel]:
    return lambda space, table: AnalyticCost.for_space(metric, space)


BUDGET_KINDS: tuple[BudgetKind, ...] = (
    BudgetKind("max_latency_ms", "latency budget, predicted by --lut", "ms", "ms latency", 1.0, _latency_table,
               lambda r: r.get("predicted_latency_ms"), "measured"),
    BudgetKind("max_params", "parameter budget (all parameters)", "params", "params", 1.0, _analytic("params"),
               lambda r: r["params"], "exact"),
    BudgetKind("max_macs", "MACs budget", "MACs", "MACs", 1.0, _analytic("macs"), lambda r: r["macs"], "exact"),
    BudgetKind("max_memory_mb", "peak activation memory budget at batch 1, MiB", "MiB", "MiB memory", MIB,
               _analytic("peak_bytes"), lambda r: r["peak_memory_mb"], "modelled"),
    BudgetKind("max_micronet_score", "MicroNet Challenge score budget (params / 6.9M + 2 MACs / 1170M, 32-bit)",
               "score", "MicroNet score", 1.0, lambda space, table: MicroNetCost.for_space(space),
               lambda r: micronet_score(r["params"], r["macs"]), "exact"),
)
"""Every kind of budget, in the order of the :class:`Budgets` fields and of the constraints of a search."""


def budget_kind(name: str) -> BudgetKind:
    for kind in BUDGET_KINDS:
        if kind.name == name:
            return kind
    raise ValueError(f"unknown budget {name!r}; valid: {', '.join(k.name for k in BUDGET_KINDS)}")


class InfeasibleBudgetError(ValueError):
    """No architecture of the space meets a budget (the message names the smallest achievable value)."""


class _Limits:
    """What :class:`Budgets` does besides holding one optional limit per budget kind."""

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


Budgets = make_dataclass(
    "Budgets", [(kind.name, float | None, field(default=None)) for kind in BUDGET_KINDS], bases=(_Limits,),
    frozen=True, namespace={"__module__": __name__, "__doc__": """The user's upper limits, one field per budget kind
    of :data:`BUDGET_KINDS` (``max_latency_ms``, ``max_params``, ``max_macs``, ``max_memory_mb``,
    ``max_micronet_score``); ``None`` means no limit on that cost."""})


@dataclass(frozen=True)
class BudgetConstraint:
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


def make_budgets(budgets: Budgets, space: SearchSpace, latency: CostModel | None = None) -> list[BudgetConstraint]:
    """The hard constraints ``budgets`` sets on ``space``; a latency limit needs the latency table."""
    out = []
    for kind in BUDGET_KINDS:
        limit = getattr(budgets, kind.name)
        if limit is not None:
            model = kind.cost_model(space, latency)
            out.append(BudgetConstraint(kind.name, Constraint(model, float(limit * kind.scale)),
                                        SeparableCost(model, space), 1 / kind.scale))
    return out


def check_feasible(space: SearchSpace, budgets: Sequence[BudgetConstraint],
                   largest_widths: bool = False) -> Choice | None:
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


def feasible(budgets: Sequence[BudgetConstraint], choice: Mapping[str, Any]) -> bool:
    return all(b.satisfied(choice) for b in budgets)


def costs_of(budgets: Sequence[BudgetConstraint], choice: Mapping[str, Any]) -> dict[str, float]:
    """Budget key -> value of ``choice`` in the budget's user units."""
    return {b.key: b.value(choice) * b.scale for b in budgets}


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"

"""Use the budget: move a chosen network to within ``[LOW x B, B]`` of its latency budget ``B``, *measured*.

A search decides on predictions and stops at the first network its rule accepts; what a user gets is the
network's latency measured alone on the target. Left there, results used 15-85 % of their budget
(docs/BENCHMARKS.md, search quality), and latency left unused is accuracy left unused. So, after the search:

1. measure the network; the ratio ``r = measured / predicted`` is how far the table is off *for this network*
   (calibration leaves a few percent per network, the machine's drift adds more);
2. aim the prediction at ``AIM x B / r`` and move there with the method's own preference
   (:mod:`hwnas.search.preference`): grow by the op, depth or width change that gives up the least preference
   per ms gained (TF-NAS's reach-the-target step, :func:`~hwnas.search.parts.width_scaling.reach_target`), or
   shrink by the change that gives up the least preference per ms saved (the projection's repair step);
3. measure again and repeat, at most ``rounds`` times, until the measurement lands in ``[LOW x B, (1 - MARGIN)
   x B]`` (the margin leaves room for the final measurement's noise);
4. keep the best network measured in that band if one was, else the heaviest under ``(1 - MARGIN) x B``.

A network the space cannot grow into the band (its heaviest member is lighter than ``LOW x B``) is reported as
such (``reason``), not passed off as a success.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hwnas.search.measured import Measurement
from hwnas.search.parts.projection import preference
from hwnas.search.parts.width_scaling import reach_target
from hwnas.space.base import Choice, SearchSpace
from hwnas.space.labels import is_width_label

LOW = 0.9
"""The band's lower edge, as a fraction of the budget: a result measured below it leaves latency unused."""
MARGIN = 0.03
"""The top of the band the filling accepts, ``(1 - MARGIN) x B``: the final measurement of the same network
(trained, exported, timed again minutes later) came out 2 % above the filling's in the quick preset's run
(0.1587 -> 0.1624 ms, 1 % over its budget), so a network the filling keeps must leave that much room."""
AIM = 0.935
"""Where a move aims: the middle of [0.9, 0.97], room for about 3.5 % of noise either way."""


@dataclass
class Filled:
    """The outcome of :func:`fill_measured`: the kept choice, its measured latency, every step."""

    choice: Choice
    measured_ms: float
    budget_ms: float
    in_band: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None  # why the band was not reached, when it was not

    @property
    def fraction(self) -> float:
        """Measured latency as a fraction of the budget."""
        return self.measured_ms / self.budget_ms

    def to_json(self) -> dict[str, Any]:
        return {"choice": dict(self.choice), "measured_ms": self.measured_ms, "budget_ms": self.budget_ms,
                "fraction": round(self.fraction, 4), "in_band": self.in_band, "reason": self.reason,
                "steps": self.steps}


def shrink_to(space: SearchSpace, choice: Mapping[str, Any], latency: Callable[[Mapping[str, Any]], float],
              target: float, scores: Mapping[str, Mapping[Any, float]],
              fits: Callable[[Mapping[str, Any]], bool] = lambda c: True) -> Choice:
    """``choice`` made lighter until ``latency`` is within ``target``: each step the one op or depth change that
    gives up the least preference per ms saved (as :func:`hwnas.search.parts.projection.project` repairs a
    violated budget). Stops at the first choice within ``target``, or when no change saves anything."""
    choice = dict(choice)
    while latency(choice) > target:
        current, pref = latency(choice), preference(scores, choice)
        best, best_ratio = None, float("inf")
        for dim in space.dims():
            if is_width_label(dim.label):
                continue
            for value in dim.values:
                if value == choice[dim.label]:
                    continue
                trial = {**choice, dim.label: value}
                saved = current - latency(trial)
                if saved <= 0 or not fits(trial):
                    continue
                ratio = max(pref - preference(scores, trial), 0.0) / saved
                if ratio < best_ratio:
                    best, best_ratio = trial, ratio
        if best is None:
            break
        choice = best
    return choice


def move_to(space: SearchSpace, choice: Mapping[str, Any], latency: Callable[[Mapping[str, Any]], float],
            target: float, scores: Mapping[str, Mapping[Any, float]],
            fits: Callable[[Mapping[str, Any]], bool] = lambda c: True) -> Choice:
    """``choice`` moved to just under ``target`` (predicted): shrunk if above it, grown if below."""
    if latency(choice) > target:
        choice = shrink_to(space, choice, latency, target, scores, fits)
    grown, _ = reach_target(space, choice, latency, target, scores, fits)
    return grown if latency(grown) <= target else dict(choice)


def other_budgets_fit(budgets: Any, space: SearchSpace, table: Any) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a choice meets every budget of ``budgets`` but latency (which the filling measures instead)."""
    import dataclasses

    from hwnas.search.budgets import feasible, make_budgets

    constraints = make_budgets(dataclasses.replace(budgets, max_latency_ms=None), space, table)
    return lambda choice: feasible(constraints, choice)


def fill_measured(space: SearchSpace, choice: Mapping[str, Any], predict: Callable[[Mapping[str, Any]], float],
                  measure: Callable[[Mapping[str, Any]], Any], budget_ms: float,
                  scores: Mapping[str, Mapping[Any, float]],
                  fits: Callable[[Mapping[str, Any]], bool] = lambda c: True, rounds: int = 4,
                  low: float = LOW, aim: float = AIM, margin: float = MARGIN) -> Filled:
    """The loop of the module docstring. ``predict(choice)``: the table's ms; ``measure(choice)``: ms on the
    target (a float or a measurement with ``ms``); ``fits``: the other budgets."""
    if budget_ms <= 0:
        raise ValueError(f"budget_ms must be > 0, got {budget_ms}")
    if not 0 < low < aim <= 1 - margin <= 1:
        raise ValueError(f"need 0 < low < aim <= 1 - margin <= 1, got low={low}, aim={aim}, margin={margin}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    current = dict(choice)
    steps: list[dict[str, Any]] = []
    tried: dict[str, float] = {}
    for step in range(rounds + 1):
        key = repr(sorted(current.items()))
        measured = tried.get(key)
        if measured is None:
            raw = measure(current)
            measured = tried[key] = Measurement.of(raw).ms
            steps.append({"step": step, "choice": dict(current), "predicted_ms": predict(current),
                          "measured_ms": measured, "measurement": getattr(raw, "to_json", lambda: None)()})
        if low * budget_ms <= measured <= (1 - margin) * budget_ms or step == rounds:
            break
        ratio = measured / max(predict(current), 1e-12)
        moved = move_to(space, current, predict, aim * budget_ms / ratio, scores, fits)
        if moved == current:  # nothing moves it (the space's edge, or the other budgets): stop here
            break
        current = moved
    return _keep(steps, budget_ms, low, margin, space, predict, fits, scores)


def _keep(steps: list[dict[str, Any]], budget_ms: float, low: float, margin: float, space: SearchSpace,
          predict: Callable[[Mapping[str, Any]], float], fits: Callable[[Mapping[str, Any]], bool],
          scores: Mapping[str, Mapping[Any, float]]) -> Filled:
    within = [s for s in steps if s["measured_ms"] <= (1 - margin) * budget_ms]
    banded = [s for s in within if s["measured_ms"] >= low * budget_ms]
    if banded:  # the most preferred of those in the band (the method's own order among equals in latency)
        kept = max(banded, key=lambda s: (preference(scores, s["choice"]), s["measured_ms"]))
        return Filled(kept["choice"], kept["measured_ms"], budget_ms, True, steps)
    if within:
        kept = max(within, key=lambda s: s["measured_ms"])
        reason = _why_short(space, kept, budget_ms, low, predict, fits)
        return Filled(kept["choice"], kept["measured_ms"], budget_ms, False, steps, reason)
    tight = [s for s in steps if s["measured_ms"] <= budget_ms]
    if tight:  # within the budget, not within its margin: the lightest of those, flagged
        kept = min(tight, key=lambda s: s["measured_ms"])
        return Filled(kept["choice"], kept["measured_ms"], budget_ms, False, steps,
                      f"measured {kept['measured_ms'] / budget_ms:.1%} of the budget: within it, but inside the "
                      f"{margin:.0%} margin that the final measurement's noise may take")
    kept = min(steps, key=lambda s: s["measured_ms"])
    return Filled(kept["choice"], kept["measured_ms"], budget_ms, False, steps,
                  f"no network measured within the budget in {len(steps)} tries (lightest tried "
                  f"{kept['measured_ms']:.3f} ms > {budget_ms:.3f} ms)")


def _why_short(space: SearchSpace, kept: Mapping[str, Any], budget_ms: float, low: float,
               predict: Callable[[Mapping[str, Any]], float], fits: Callable[[Mapping[str, Any]], bool]) -> str:
    ratio = kept["measured_ms"] / max(kept["predicted_ms"], 1e-12)
    heaviest = space.heaviest()
    if predict(heaviest) * ratio < low * budget_ms:
        return (f"the space's heaviest network is predicted at {predict(heaviest) * ratio:.3f} ms measured, below "
                f"{low:.0%} of the budget")
    if not fits(heaviest):
        return (f"measured {kept['measured_ms']:.3f} ms ({kept['measured_ms'] / budget_ms:.0%} of the budget): "
                "the other budgets stop it growing further")
    return (f"measured {kept['measured_ms']:.3f} ms ({kept['measured_ms'] / budget_ms:.0%} of the budget): no step "
            "landed in the band (measurements moved more than predictions between steps)")

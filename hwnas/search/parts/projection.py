"""Projection of a preferred architecture onto hard budgets: the hard mode of the DNAS methods.

FBNet and TF-NAS only penalise latency in the loss, so the argmax architecture may exceed the budget (the
complaint behind "a 25 ms target giving 62 ms"). :func:`project` takes the method's preference over every
decision (log-probabilities) and returns the most preferred architecture it can find that meets every budget:

1. start from the per-decision argmax;
2. while a budget is violated, make the single change (another candidate for one slot, or a shallower stage) that
   gives up the least preference per unit of the violated cost it saves, never breaking a budget that holds;
3. then, while some single change raises the preference and keeps every budget, make the best one.

It is a greedy approximation of a multiple-choice knapsack, the problem HardCoRe-NAS's final projection solves
too (Nayman et al. 2021, Sec. 3.3); step 3 makes the result locally optimal. Width decisions are left as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwnas.search.budgets import BudgetConstraint, check_feasible, feasible
from hwnas.space.base import Choice, SearchSpace
from hwnas.space.labels import is_width_label

Scores = Mapping[str, Mapping[Any, float]]
"""Decision label -> value -> preference (e.g. log-probability); missing labels or values count 0."""


def preference(scores: Scores, choice: Mapping[str, Any]) -> float:
    return sum(scores.get(label, {}).get(value, 0.0) for label, value in choice.items())


def argmax_choice(space: SearchSpace, scores: Scores, base: Mapping[str, Any] | None = None) -> Choice:
    """Per decision, the value of highest score; decisions without scores keep ``base`` (else their last value)."""
    choice = {}
    for dim in space.dims():
        table = scores.get(dim.label)
        if table:
            choice[dim.label] = max(dim.values, key=lambda v: table.get(v, float("-inf")))
        else:
            choice[dim.label] = base[dim.label] if base and dim.label in base else dim.values[-1]
    return choice


def _moves(space: SearchSpace, choice: Choice, scores: Scores):
    """Every single change of a scored decision: (label, new value)."""
    for dim in space.dims():
        if is_width_label(dim.label) or dim.label not in scores:
            continue
        for value in dim.values:
            if value != choice[dim.label]:
                yield dim.label, value


def _violation(budget: BudgetConstraint, choice: Choice) -> float:
    return (budget.value(choice) - budget.limit) / budget.limit


def project(space: SearchSpace, scores: Scores, budgets: Sequence[BudgetConstraint],
            start: Mapping[str, Any] | None = None, largest_widths: bool = False) -> Choice:
    """The preferred architecture under hard budgets (see the module docstring). ``start`` defaults to the
    argmax of ``scores``; decisions without scores keep ``start``'s values. If no single change helps, it
    restarts from the lightest network (at the largest widths with ``largest_widths``, for methods that do not
    search widths)."""
    choice = dict(start) if start is not None else argmax_choice(space, scores)
    space.check(choice)
    if not budgets:
        return _improve(space, choice, scores, budgets)
    while not feasible(budgets, choice):
        worst = max(budgets, key=lambda b: _violation(b, choice))
        step = _repair_step(space, choice, scores, budgets, worst)
        if step is None:  # stuck: restart from a network that meets every budget
            fallback = check_feasible(space, budgets, largest_widths)
            assert fallback is not None
            choice = {**choice, **{k: v for k, v in fallback.items()}}
            break
        choice[step[0]] = step[1]
    return _improve(space, choice, scores, budgets)


def _repair_step(space: SearchSpace, choice: Choice, scores: Scores, budgets: Sequence[BudgetConstraint],
                 worst: BudgetConstraint) -> tuple[str, Any] | None:
    current, pref = worst.value(choice), preference(scores, choice)
    held = [b for b in budgets if b is not worst and b.satisfied(choice)]
    best, best_ratio = None, float("inf")
    for label, value in _moves(space, choice, scores):
        trial = {**choice, label: value}
        saved = (current - worst.value(trial)) / worst.limit
        if saved <= 0 or not all(b.satisfied(trial) for b in held):
            continue
        ratio = max(pref - preference(scores, trial), 0.0) / saved
        if ratio < best_ratio:
            best, best_ratio = (label, value), ratio
    return best


def _improve(space: SearchSpace, choice: Choice, scores: Scores, budgets: Sequence[BudgetConstraint]) -> Choice:
    while True:
        pref = preference(scores, choice)
        best, gain = None, 1e-12
        for label, value in _moves(space, choice, scores):
            trial = {**choice, label: value}
            delta = preference(scores, trial) - pref
            if delta > gain and feasible(budgets, trial):
                best, gain = (label, value), delta
        if best is None:
            return choice
        choice[best[0]] = best[1]

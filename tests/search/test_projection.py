"""Projection onto hard budgets: always feasible, unchanged when already feasible, locally optimal."""

from __future__ import annotations

import itertools
import random

from hwnas.cost.separable import SeparableCost
from hwnas.search.budgets import Budgets, feasible, make_budgets
from hwnas.search.parts.projection import argmax_choice, preference, project


def random_scores(space, seed):
    rng = random.Random(seed)
    return {d.label: {v: -3 * rng.random() for v in d.values} for d in space.dims() if not d.label.endswith("width")}


def test_projection_meets_every_budget_and_is_near_the_best(tiny, tiny_table):
    low = SeparableCost(tiny_table, tiny).minimum()
    high = SeparableCost(tiny_table, tiny).cost(tiny.heaviest())
    for seed in range(10):
        limit = low + (high - low) * (0.1 + 0.08 * seed)
        budgets = make_budgets(Budgets(max_latency_ms=limit), tiny, tiny_table)
        scores = random_scores(tiny, seed)
        start = argmax_choice(tiny, scores)
        chosen = project(tiny, scores, budgets, start)
        assert feasible(budgets, chosen)
        fixed = {k: v for k, v in start.items() if k not in scores}
        options = [{**fixed, **dict(zip(scores, values))}
                   for values in itertools.product(*(list(s) for s in scores.values()))]
        options = [c for c in options if feasible(budgets, c)]
        if options:  # a network at the given widths fits: widths stay, and the greedy result is close to the best
            assert {k: chosen[k] for k in fixed} == fixed
            assert preference(scores, chosen) >= max(preference(scores, c) for c in options) - 3.0
        # locally optimal: no single scored change is better and feasible
        for label in scores:
            for value in scores[label]:
                trial = {**chosen, label: value}
                if feasible(budgets, trial):
                    assert preference(scores, trial) <= preference(scores, chosen) + 1e-9


def test_feasible_argmax_is_returned_unchanged(tiny, tiny_table):
    budgets = make_budgets(Budgets(max_latency_ms=1e9), tiny, tiny_table)
    scores = random_scores(tiny, 3)
    start = argmax_choice(tiny, scores)
    assert project(tiny, scores, budgets, start) == start

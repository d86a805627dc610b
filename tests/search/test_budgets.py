"""Budgets: validation, hard constraints over every cost, and infeasible budgets reported at once."""

from __future__ import annotations

import pytest

from hwnas.search.budgets import Budgets, InfeasibleBudgetError, check_feasible, costs_of, make_budgets
from hwnas.cost.separable import SeparableCost


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "3"])
def test_budget_values_are_checked(bad):
    with pytest.raises(ValueError, match="max-latency-ms must be a positive number"):
        Budgets(max_latency_ms=bad)


def test_every_budget_becomes_a_constraint_in_user_units(tiny, tiny_table):
    budgets = make_budgets(Budgets(max_latency_ms=5, max_params=1e6, max_macs=1e8, max_memory_mb=10), tiny,
                           tiny_table)
    assert [b.key for b in budgets] == ["max_latency_ms", "max_params", "max_macs", "max_memory_mb"]
    choice = tiny.heaviest()
    spec = tiny.to_spec(choice)
    values = costs_of(budgets, choice)
    assert values["max_latency_ms"] == pytest.approx(tiny_table.predict(spec))
    assert values["max_memory_mb"] == pytest.approx(budgets[3].constraint.value(spec) / 2**20)


def test_latency_budget_needs_a_table(tiny):
    with pytest.raises(ValueError, match="needs a latency table"):
        make_budgets(Budgets(max_latency_ms=5), tiny, None)


def test_infeasible_budget_names_the_smallest_achievable_value(tiny, tiny_table):
    low = SeparableCost(tiny_table, tiny).minimum()
    with pytest.raises(InfeasibleBudgetError, match=f"smallest achievable is {low:.4g}"):
        check_feasible(tiny, make_budgets(Budgets(max_latency_ms=low * 0.9), tiny, tiny_table))
    with pytest.raises(InfeasibleBudgetError, match="max-params"):
        check_feasible(tiny, make_budgets(Budgets(max_params=10), tiny))


def test_a_feasible_budget_gives_a_network_that_meets_it(tiny, tiny_table):
    low = SeparableCost(tiny_table, tiny).minimum()
    budgets = make_budgets(Budgets(max_latency_ms=low * 1.01, max_memory_mb=1), tiny, tiny_table)
    choice = check_feasible(tiny, budgets)
    assert all(b.satisfied(choice) for b in budgets)
    assert check_feasible(tiny, []) is None

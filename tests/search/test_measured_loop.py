"""The measured closed loop (hwnas.search.closed_loop) on fake searches and measurements: no torch, no timing."""

from __future__ import annotations

import pytest

from hwnas.search import Budgets
from hwnas.search.budgets import InfeasibleBudgetError
from hwnas.search.closed_loop import SAFETY, search_within_measured


class FakeSearch:
    """A 'search' that returns a network predicted at the budget; records the budgets it was given."""

    def __init__(self, lightest: float = 0.0):
        self.budgets: list[float] = []
        self.lightest = lightest

    def __call__(self, attempt, budgets):
        self.budgets.append(budgets.max_latency_ms)
        if budgets.max_latency_ms is not None and budgets.max_latency_ms < self.lightest:
            raise InfeasibleBudgetError(f"below the lightest ({self.lightest})")
        return {"arch": f"net{attempt}", "predicted_latency_ms": budgets.max_latency_ms or 1.0, "search_time_s": 1.0}


def measured(*values):
    it = iter(values)
    return lambda attempt, result: next(it)


def test_a_network_within_budget_is_measured_once_and_kept():
    search = FakeSearch()
    chosen, attempts = search_within_measured(search, measured(0.9), Budgets(max_latency_ms=1.0), retries=2)
    assert chosen["arch"] == "net0" and len(attempts) == 1 and attempts[0]["measured_ms"] == 0.9


def test_an_over_budget_network_tightens_the_budget_by_its_measured_excess():
    search, lines = FakeSearch(), []
    chosen, attempts = search_within_measured(search, measured(1.25, 0.97), Budgets(max_latency_ms=1.0),
                                              retries=3, announce=lines.append)
    assert search.budgets == [1.0, pytest.approx(1.0 / 1.25 * SAFETY)]
    assert chosen["attempt"] == 1 and chosen["arch"] == "net1" and len(lines) == 1 and "1.250 ms" in lines[0]


def test_without_a_network_that_meets_it_the_fastest_measured_one_is_kept():
    chosen, attempts = search_within_measured(FakeSearch(), measured(1.3, 1.1, 1.2), Budgets(max_latency_ms=1.0),
                                              retries=2)
    assert [a["attempt"] for a in attempts] == [0, 1, 2] and chosen["attempt"] == 1


def test_a_tightened_budget_no_network_meets_ends_the_loop_but_a_first_one_is_an_error():
    search = FakeSearch(lightest=0.5)
    chosen, attempts = search_within_measured(search, measured(3.0), Budgets(max_latency_ms=1.0), retries=3)
    assert "error" in attempts[-1] and chosen["attempt"] == 0 and len(attempts) == 2
    with pytest.raises(InfeasibleBudgetError):
        search_within_measured(FakeSearch(lightest=2.0), measured(), Budgets(max_latency_ms=1.0), retries=3)


def test_infeasibility_on_a_retry_keeps_the_fastest_measured_network_and_records_why():
    search = FakeSearch(lightest=0.7)
    chosen, attempts = search_within_measured(search, measured(1.2, 1.1, 1.15), Budgets(max_latency_ms=1.0),
                                              retries=3)
    # attempt 1 under 1/1.2*0.98 = 0.817 (measured 1.1), attempt 2 under 0.817/1.1*0.98 = 0.728 (measured 1.15),
    # attempt 3 under 0.728/1.15*0.98 = 0.620 < 0.7: infeasible, the loop ends with the fastest measured network.
    assert [a["attempt"] for a in attempts] == [0, 1, 2, 3] and len(search.budgets) == 4
    assert "below the lightest (0.7)" in attempts[-1]["error"] and "arch" not in attempts[-1]
    assert attempts[-1]["budget_ms"] == pytest.approx(search.budgets[-1]) and chosen["attempt"] == 1


class Failing(FakeSearch):
    """A search that fails at ``attempt`` with ``error``: not a budget no network meets."""

    def __init__(self, attempt: int, error: Exception):
        super().__init__()
        self.attempt, self.error = attempt, error

    def __call__(self, attempt, budgets):
        if attempt == self.attempt:
            raise self.error
        return super().__call__(attempt, budgets)


@pytest.mark.parametrize("error", [ValueError("bad setting 'epochs': must be a positive integer"),
                                   OSError("No space left on device"), RuntimeError("checkpoint is corrupt")])
def test_any_other_error_of_a_retry_propagates(error):
    """Only InfeasibleBudgetError means "no network fits the tightened budget": a retry failing for any other
    reason (a ValueError of a bad setting included) is an error of the run, not the end of the loop."""
    with pytest.raises(type(error), match=str(error).split(":")[0]):
        search_within_measured(Failing(1, error), measured(1.5, 0.9), Budgets(max_latency_ms=1.0), retries=2)
    with pytest.raises(type(error)):  # the first attempt too, as before
        search_within_measured(Failing(0, error), measured(), Budgets(max_latency_ms=1.0), retries=2)


def test_no_retries_or_no_latency_budget_measures_nothing():
    never = lambda attempt, result: pytest.fail("measured")  # noqa: E731
    chosen, attempts = search_within_measured(FakeSearch(), never, Budgets(max_latency_ms=1.0), retries=0)
    assert "measured_ms" not in attempts[0]
    chosen, attempts = search_within_measured(FakeSearch(), never, Budgets(max_params=1e6), retries=3)
    assert len(attempts) == 1 and chosen["attempt"] == 0
    with pytest.raises(ValueError, match="retries"):
        search_within_measured(FakeSearch(), never, Budgets(max_latency_ms=1.0), retries=-1)
    with pytest.raises(ValueError, match="safety"):
        search_within_measured(FakeSearch(), never, Budgets(max_latency_ms=1.0), retries=1, safety=1.5)

"""The measured closed loop (hwnas.search.closed_loop) on fake searches and measurements: no torch, no timing.

``confirmed(ms)`` is a measurement of three agreeing passes (noise at its 2 % floor): an excess of more than 2 % in
it decides at once. A bare number is one pass: an excess in it is measured again before anything is tightened.
"""

from __future__ import annotations

import pytest

from hwnas.search import Budgets
from hwnas.search.budgets import InfeasibleBudgetError
from hwnas.search.closed_loop import MAX_STEP, SAFETY, search_within_measured
from hwnas.search.measured import Measurement


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


def confirmed(ms: float) -> Measurement:
    return Measurement.from_passes([ms] * 3)


def test_a_network_within_budget_is_measured_once_and_kept():
    search = FakeSearch()
    chosen, attempts = search_within_measured(search, measured(0.9), Budgets(max_latency_ms=1.0), retries=2)
    assert chosen["arch"] == "net0" and len(attempts) == 1 and attempts[0]["measured_ms"] == 0.9


def test_an_over_budget_network_tightens_the_budget_by_its_measured_excess():
    search, lines = FakeSearch(), []
    chosen, attempts = search_within_measured(search, measured(confirmed(1.1), 0.97), Budgets(max_latency_ms=1.0),
                                              retries=3, announce=lines.append)
    assert search.budgets == [1.0, pytest.approx(1.0 / 1.1 * SAFETY)]
    assert chosen["attempt"] == 1 and chosen["arch"] == "net1" and len(lines) == 1 and "1.100 ms" in lines[0]
    assert len(attempts[0]["measurements"]) == 1  # three agreeing passes 10 % over: no re-take


def test_without_a_network_that_meets_it_the_fastest_measured_one_is_kept():
    chosen, attempts = search_within_measured(FakeSearch(), measured(*map(confirmed, (1.3, 1.1, 1.2))),
                                              Budgets(max_latency_ms=1.0), retries=2)
    assert [a["attempt"] for a in attempts] == [0, 1, 2] and chosen["attempt"] == 1


def test_a_tightened_budget_no_network_meets_ends_the_loop_but_a_first_one_is_an_error():
    search = FakeSearch(lightest=0.9)  # 3x over: the budget goes down by the most one retry may, to 0.85
    chosen, attempts = search_within_measured(search, measured(confirmed(3.0)), Budgets(max_latency_ms=1.0),
                                              retries=3)
    assert "error" in attempts[-1] and chosen["attempt"] == 0 and len(attempts) == 2
    with pytest.raises(InfeasibleBudgetError):
        search_within_measured(FakeSearch(lightest=2.0), measured(), Budgets(max_latency_ms=1.0), retries=3)


def test_infeasibility_on_a_retry_keeps_the_fastest_measured_network_and_records_why():
    search = FakeSearch(lightest=0.7)
    chosen, attempts = search_within_measured(search, measured(*map(confirmed, (1.2, 1.1, 1.15))),
                                              Budgets(max_latency_ms=1.0), retries=3)
    # attempt 1 under 1 * max(1/1.2*0.98, 0.85) = 0.85 (measured 1.1), attempt 2 under 0.85 * 1/1.1*0.98 = 0.757
    # (measured 1.15), attempt 3 under 0.757 * 1/1.15*0.98 = 0.645 < 0.7: infeasible, the loop ends with the fastest
    # measured network.
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
    with pytest.raises(ValueError, match="max_step"):
        search_within_measured(FakeSearch(), never, Budgets(max_latency_ms=1.0), retries=1, max_step=1.0)


# ------------------------------------------------------------------------------------------ the decision rule
def test_a_single_outlier_does_not_tighten_the_budget():
    """A briefly busy machine (issue 19): one pass 40 % over, the re-take within: the pooled median is within."""
    search, lines = FakeSearch(), []
    chosen, attempts = search_within_measured(search, measured(1.4, Measurement.from_passes([0.95, 0.96, 0.97])),
                                              Budgets(max_latency_ms=1.0), retries=2, announce=lines.append)
    assert search.budgets == [1.0] and len(attempts) == 1 and chosen["attempt"] == 0
    assert [m["passes"] for m in attempts[0]["measurements"]] == [1, 3]
    assert attempts[0]["measured_ms"] == pytest.approx(0.965)  # the median of the four passes
    assert len(lines) == 1 and "measuring again" in lines[0] and "1 pass" in lines[0]


def test_an_excess_inside_the_noise_band_is_measured_again():
    """Three passes that scatter by +-17 % put 5 % over the budget inside their noise: measured again."""
    scattered = Measurement.from_passes([0.9, 1.05, 1.25])
    assert scattered.over(1.0) and not scattered.confirmed_over(1.0) and scattered.noise == pytest.approx(0.35 / 2.1)
    search = FakeSearch()
    chosen, attempts = search_within_measured(
        search, measured(scattered, Measurement.from_passes([0.97, 0.98, 0.99])), Budgets(max_latency_ms=1.0),
        retries=2, announce=lambda line: None)
    assert search.budgets == [1.0] and len(attempts[0]["measurements"]) == 2
    assert attempts[0]["measured_ms"] == pytest.approx(0.985) and chosen["attempt"] == 0


def test_an_excess_that_survives_the_re_take_tightens_in_proportion_to_it():
    search = FakeSearch()
    chosen, attempts = search_within_measured(
        search, measured(1.1, Measurement.from_passes([1.08, 1.1, 1.12]), confirmed(0.95)),
        Budgets(max_latency_ms=1.0), retries=2, announce=lambda line: None)
    assert search.budgets == [1.0, pytest.approx(1.0 / 1.1 * SAFETY)]  # the pooled median: 1.1
    first = attempts[0]
    assert first["measured_ms"] == pytest.approx(1.1) and len(first["measurements"]) == 2
    assert len(attempts[1]["measurements"]) == 1 and chosen["attempt"] == 1


def test_the_tightening_is_bounded_per_retry():
    search, lines = FakeSearch(), []
    chosen, attempts = search_within_measured(search, measured(confirmed(2.0), confirmed(1.6), confirmed(0.9)),
                                              Budgets(max_latency_ms=1.0), retries=3, announce=lines.append)
    step = 1 - MAX_STEP  # 2x and 1.6x over would ask for 0.49 and 0.61 of the budget: 0.85 each time instead
    assert search.budgets == [1.0, pytest.approx(step), pytest.approx(step * step)]
    assert chosen["attempt"] == 2 and all("at most 15% tighter" in line for line in lines)
    search = FakeSearch()
    search_within_measured(search, measured(confirmed(2.0), 0.9), Budgets(max_latency_ms=1.0), retries=1,
                           max_step=0.6, announce=lambda line: None)
    assert search.budgets == [1.0, pytest.approx(0.5 * SAFETY)]  # a looser bound lets the whole excess through


def test_the_drift_corrected_value_decides_and_every_measurement_is_recorded():
    """Every pass 20 % slow, and the references 20 % slow with it: the machine, not the network."""
    slow = Measurement.from_passes([1.2, 1.21, 1.19], [1.2, 1.21, 1.19])
    chosen, attempts = search_within_measured(FakeSearch(), measured(slow), Budgets(max_latency_ms=1.0), retries=2)
    (a,) = attempts
    assert a["measured_ms"] == pytest.approx(1.0) and a["drift"] == pytest.approx(1.2)
    assert a["measurements"] == [slow.to_json()] and a["measurements"][0]["raw_ms"] == pytest.approx(1.2)


def test_a_measure_returning_plain_numbers_still_works():
    chosen, attempts = search_within_measured(FakeSearch(), measured(0.9), Budgets(max_latency_ms=1.0), retries=2)
    (m,) = attempts[0]["measurements"]
    assert attempts[0]["measured_ms"] == 0.9 and m["passes"] == 1 and m["noise"] == 0 and m["drift"] == 1.0
    search = FakeSearch()  # over the budget twice in a row: the pooled 1.1 tightens; 0.9 is within at once
    chosen, attempts = search_within_measured(search, measured(1.15, 1.05, 0.9), Budgets(max_latency_ms=1.0),
                                              retries=2, announce=lambda line: None)
    assert search.budgets == [1.0, pytest.approx(1.0 / 1.1 * SAFETY)] and chosen["attempt"] == 1

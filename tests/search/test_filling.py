"""Budget filling (hwnas.search.filling): into [0.9 B, B] measured, with a simulated target whose timings the
table gets wrong by a constant factor and a few percent of noise."""

from __future__ import annotations

import random

import pytest

from hwnas.cost import count_macs
from hwnas.search.filling import LOW, fill_measured, move_to
from hwnas.space import get_space


@pytest.fixture(scope="module")
def fbnet():
    return get_space("fbnet", 28, 1, 10, 0.5)


def predictor(space):
    """A stand-in table: MMACs (additive over the layers, like a latency table)."""
    cache = {}

    def predict(choice):
        key = tuple(sorted(choice.items()))
        if key not in cache:
            cache[key] = count_macs(space.to_spec(choice), 28, num_classes=10, in_channels=1) / 1e6
        return cache[key]

    return predict


def simulated_target(predict, factor, noise, seed=0):
    """'Measures' a network at ``factor`` x its prediction, with +-``noise`` uniform noise."""
    rng = random.Random(seed)
    calls = []

    def measure(choice):
        calls.append(dict(choice))
        return predict(choice) * factor * (1 + rng.uniform(-noise, noise))

    measure.calls = calls
    return measure


@pytest.mark.parametrize("start", ["lightest", "heaviest"])
@pytest.mark.parametrize("factor", [0.8, 1.3])
def test_filling_lands_in_the_band_from_either_side(fbnet, start, factor):
    predict = predictor(fbnet)
    measure = simulated_target(predict, factor, 0.02)
    budget = 6.0
    filled = fill_measured(fbnet, getattr(fbnet, start)(), predict, measure, budget, {})
    assert filled.in_band and LOW * budget <= filled.measured_ms <= budget, filled.steps
    assert filled.reason is None and len(filled.steps) <= 5
    assert filled.choice == filled.steps[-1]["choice"] or any(s["choice"] == filled.choice for s in filled.steps)


def test_the_preference_decides_what_grows(fbnet):
    """With every layer preferring k3_e1 over anything heavier, the filled network grows by k3_e1 layers."""
    predict = predictor(fbnet)
    scores = {d.label: {v: (1.0 if v == "k3_e1" else -1.0 if v != "skip" else 0.0) for v in d.values}
              for d in fbnet.dims()}
    filled = fill_measured(fbnet, fbnet.lightest(), predict, simulated_target(predict, 1.0, 0.0), 3.0, scores)
    used = [v for v in filled.choice.values() if v != "skip"]
    assert used and used.count("k3_e1") >= len(used) - 1


def test_a_budget_above_the_heaviest_network_says_why(fbnet):
    predict = predictor(fbnet)
    filled = fill_measured(fbnet, fbnet.lightest(), predict, simulated_target(predict, 1.0, 0.0), 100.0, {})
    assert not filled.in_band and filled.choice == fbnet.heaviest()
    assert "heaviest network" in filled.reason


def test_a_network_over_the_budget_is_shrunk_into_it(fbnet):
    predict = predictor(fbnet)
    filled = fill_measured(fbnet, fbnet.heaviest(), predict, simulated_target(predict, 1.5, 0.01), 5.0, {})
    assert filled.measured_ms <= 5.0 and filled.in_band


def test_other_budgets_are_kept(fbnet):
    predict = predictor(fbnet)
    from hwnas.cost import count_params

    def params(c):
        return count_params(fbnet.to_spec(c), num_classes=10, in_channels=1)

    cap = params(fbnet.lightest()) * 1.05
    filled = fill_measured(fbnet, fbnet.lightest(), predict, simulated_target(predict, 1.0, 0.0), 8.0, {},
                           fits=lambda c: params(c) <= cap)
    assert params(filled.choice) <= cap and filled.measured_ms > predict(fbnet.lightest())
    assert filled.in_band or "other budgets" in filled.reason


def test_move_to_stays_under_the_target(fbnet):
    predict = predictor(fbnet)
    for target in (2.0, 5.0, 9.0):
        assert predict(move_to(fbnet, fbnet.heaviest(), predict, target, {})) <= target
        assert predict(move_to(fbnet, fbnet.lightest(), predict, target, {})) <= target


def test_bad_arguments_are_refused(fbnet):
    predict = predictor(fbnet)
    with pytest.raises(ValueError, match="budget_ms"):
        fill_measured(fbnet, fbnet.lightest(), predict, predict, 0.0, {})
    with pytest.raises(ValueError, match="rounds"):
        fill_measured(fbnet, fbnet.lightest(), predict, predict, 1.0, {}, rounds=0)

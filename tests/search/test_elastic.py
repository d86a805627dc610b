"""TF-NAS elasticity scaling converges on the target from either side, within 1 %, inside the width bounds."""

from __future__ import annotations

import random

import pytest

from hwnas.cost.models import AnalyticCost
from hwnas.cost.separable import SeparableCost
from hwnas.search.parts.width_scaling import elasticity_scale, initial_widths, reach_target, width_bounds
from hwnas.space import get_space


@pytest.fixture(scope="module")
def space():
    return get_space("tfnas", 28, 1, 10)


@pytest.fixture(scope="module")
def macs(space):
    # MACs stand in for latency: the algorithm only needs a cost that grows with width.
    return SeparableCost(AnalyticCost.for_space("macs", space), space)


@pytest.mark.parametrize("seed,factor", [(0, 0.0), (1, 0.25), (2, 0.5), (3, 0.75), (4, 1.0)])
def test_scaling_lands_within_one_percent_below_the_target(space, macs, seed, factor):
    choice = initial_widths(space, space.sample(random.Random(seed)))
    narrow, _ = elasticity_scale(space, choice, macs.cost, 1.0)
    wide, _ = elasticity_scale(space, choice, macs.cost, 1e15)
    low, high = macs.cost(narrow), macs.cost(wide)  # the reachable range, from either side of the start
    target = low + 0.01 * (high - low) + factor * 0.98 * (high - low)
    scaled, trace = elasticity_scale(space, choice, macs.cost, target)
    value = macs.cost(scaled)
    assert value <= target
    assert value >= 0.99 * target, (value / target, trace)
    assert {k: v for k, v in scaled.items() if not k.endswith("_width")} == \
        {k: v for k, v in choice.items() if not k.endswith("_width")}
    for slot in space.active_slots(scaled):
        lo, hi = width_bounds(space, slot, scaled)
        assert lo <= scaled[slot.width_label] <= hi


def test_unreachable_targets_stop_at_the_bounds(space, macs):
    choice = initial_widths(space, space.sample(random.Random(5)))
    low, _ = elasticity_scale(space, choice, macs.cost, 1.0)
    for slot in space.active_slots(low):
        assert low[slot.width_label] == width_bounds(space, slot, low)[0]
    high, _ = elasticity_scale(space, choice, macs.cost, 1e15)
    for slot in space.active_slots(high):
        assert high[slot.width_label] == width_bounds(space, slot, high)[1]


def test_a_coarse_width_grid_shrinks_and_grows_too():
    """Widths on a grid of step 8 (a YAML space): a one-channel step snaps back to where it was, so scaling
    must move by a grid value (it once stopped at once, leaving an argmax 10 % over its target)."""
    from pathlib import Path

    tiny = get_space(str(Path(__file__).with_name("tiny_space.yaml")), 28, 1, 10)
    cost = SeparableCost(AnalyticCost.for_space("macs", tiny), tiny)
    choice = {**tiny.heaviest(), "s1_depth": 1, "s1_b0_op": "k3", "s1_b0_width": 32}
    low, _ = elasticity_scale(tiny, choice, cost.cost, 1.0)
    assert low["s1_b0_width"] == width_bounds(tiny, tiny.slots()[2], low)[0] == 16
    target = 0.5 * (cost.cost(low) + cost.cost(choice))
    scaled, trace = elasticity_scale(tiny, choice, cost.cost, target)
    assert scaled["s1_b0_width"] == 24 and trace[0]["steps"] == 1
    high, _ = elasticity_scale(tiny, low, cost.cost, 1e15)
    assert high["s1_b0_width"] == 32


def test_spaces_without_widths_are_left_alone():
    fbnet = get_space("fbnet", 28, 1, 10)
    choice = fbnet.sample(random.Random(0))
    assert elasticity_scale(fbnet, choice, lambda c: 1.0, 0.5) == (choice, [])


def _one_block_per_stage(space, choice):
    """The lightest depth everywhere: what a short TF-NAS search's argmax kept in the benchmark."""
    out = dict(choice)
    for dim in space.dims():
        if dim.label.endswith("_depth"):
            out[dim.label] = dim.values[0]
    return out


def test_reach_target_grows_depth_and_ops_when_widths_saturate(space, macs):
    choice = initial_widths(space, _one_block_per_stage(space, space.sample(random.Random(6))))
    widest, _ = elasticity_scale(space, choice, macs.cost, 1e15)
    target = 1.6 * macs.cost(widest)  # out of reach of widths alone
    scaled, _ = elasticity_scale(space, choice, macs.cost, target)
    assert macs.cost(scaled) < 0.99 * target
    scores = {d.label: {v: 0.0 for v in d.values} for d in space.dims()}
    grown, trace = reach_target(space, choice, macs.cost, target, scores)
    assert 0.99 * target <= macs.cost(grown) <= target, trace
    assert any(step["phase"].startswith("change") for step in trace)
    space.check(grown)
    for slot in space.active_slots(grown):
        lo, hi = width_bounds(space, slot, grown)
        assert lo <= grown[slot.width_label] <= hi


def test_reach_target_follows_the_preference_and_keeps_other_budgets(space, macs):
    choice = initial_widths(space, _one_block_per_stage(space, space.sample(random.Random(7))))
    widest, _ = elasticity_scale(space, choice, macs.cost, 1e15)
    target = 1.3 * macs.cost(widest)
    # Deeper stage 3 is strongly preferred: the first growth step must take it.
    scores = {d.label: {v: 0.0 for v in d.values} for d in space.dims()}
    deepest = [d for d in space.dims() if d.label == "s3_depth"][0]
    scores["s3_depth"] = {v: (0.0 if v == deepest.values[1] else -5.0) for v in deepest.values}
    grown, trace = reach_target(space, choice, macs.cost, target, scores)
    first = [s for s in trace if s["phase"].startswith("change")][0]
    assert "s3_depth" in first["phase"]
    # A params-like budget that no growth may break: the result keeps it even if the target is then missed.
    params = SeparableCost(AnalyticCost.for_space("params", space), space)
    cap = params.cost(widest) * 1.05
    capped, _ = reach_target(space, widest, macs.cost, target, scores, lambda c: params.cost(c) <= cap)
    assert params.cost(capped) <= cap
    assert macs.cost(capped) <= target


def test_reach_target_on_a_space_without_widths():
    fbnet = get_space("fbnet", 28, 1, 10)
    macs = SeparableCost(AnalyticCost.for_space("macs", fbnet), fbnet)
    lightest = {d.label: ("skip" if "skip" in d.values else d.values[0]) for d in fbnet.dims()}
    target = 0.5 * (macs.cost(lightest) + macs.cost(fbnet.heaviest()))
    scores = {d.label: {v: 0.0 for v in d.values} for d in fbnet.dims()}
    grown, _ = reach_target(fbnet, lightest, macs.cost, target, scores)
    assert 0.99 * target <= macs.cost(grown) <= target

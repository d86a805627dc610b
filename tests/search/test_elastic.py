"""TF-NAS elasticity scaling converges on the target from either side, within 1 %, inside the width bounds."""

from __future__ import annotations

import random

import pytest

from hwnas.cost.models import AnalyticCost
from hwnas.search.elastic import elasticity_scale, initial_widths, width_bounds
from hwnas.search.separable import SeparableCost
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


def test_spaces_without_widths_are_left_alone():
    fbnet = get_space("fbnet", 28, 1, 10)
    choice = fbnet.sample(random.Random(0))
    assert elasticity_scale(fbnet, choice, lambda c: 1.0, 0.5) == (choice, [])

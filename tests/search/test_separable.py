"""Separable costs equal the cost models exactly, and the lightest choice is the true minimum."""

from __future__ import annotations

import itertools
import random

import pytest

from hwnas.cost.models import AnalyticCost
from hwnas.cost.separable import SeparableCost


def every_choice(space):
    dims = space.dims()
    for values in itertools.product(*(d.values for d in dims)):
        yield dict(zip((d.label for d in dims), values))


def models(space, table):
    calibrated = type(table).from_dict(table.to_dict())
    calibrated.calibration = {"kind": "affine", "scale": 0.8, "offset_ms": 0.05}
    return [table, calibrated] + [AnalyticCost.for_space(m, space) for m in ("macs", "params", "peak_bytes")]


def test_cost_equals_the_model_on_every_choice(tiny, tiny_table):
    for model in models(tiny, tiny_table):
        separable = SeparableCost(model, tiny)
        for choice in every_choice(tiny):
            want = model.cost(tiny.to_spec(choice))
            assert separable.cost(choice) == pytest.approx(want, rel=1e-9), (model.name, choice)


def test_lightest_is_the_minimum_over_the_space(tiny, tiny_table):
    for model in models(tiny, tiny_table):
        separable = SeparableCost(model, tiny)
        best = min(model.cost(tiny.to_spec(c)) for c in every_choice(tiny))
        assert separable.minimum() == pytest.approx(best, rel=1e-9), model.name
        tiny.check(separable.lightest())


def test_largest_widths_keeps_every_width_at_its_largest(tiny, tiny_table):
    separable = SeparableCost(tiny_table, tiny)
    choice = separable.lightest(largest_widths=True)
    for slot in tiny.slots():
        if slot.widths:
            assert choice[slot.width_label] == slot.widths[-1]
    assert separable.minimum(largest_widths=True) >= separable.minimum()


def test_terms_are_cached_per_width(tiny, tiny_table):
    separable = SeparableCost(tiny_table, tiny)
    rng = random.Random(0)
    for _ in range(20):
        separable.cost(tiny.sample(rng))
    count = len(separable._terms)
    for _ in range(20):
        separable.cost(tiny.sample(random.Random(0)))
    assert len(separable._terms) == count

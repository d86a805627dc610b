"""References scaled to a measured budget (hwnas.scaled_references) and the report's comparison with them."""

from __future__ import annotations

import pytest

from hwnas import zoo
from hwnas.arch import decode
from hwnas.cost import count_macs
from hwnas.report.summary import budget_use, compare_with_references
from hwnas.scaled_references import scale_to_budget, scaled_grid


def fake_target(scale=1e-6, bumps=None):
    """'Measures' a network at its MACs x ``scale`` ms (x a per-arch bump: latency that MACs do not predict)."""
    calls = []

    def measure(arch):
        calls.append(arch)
        macs = count_macs(decode(arch), 28, num_classes=10, in_channels=1)
        return macs * scale * (bumps or {}).get(arch, 1.0)

    measure.calls = calls
    return measure


def test_the_largest_scaling_within_the_budget_is_found_in_few_measurements():
    spec = zoo.get("mobilenetv2_100").spec
    grid = scaled_grid(spec, 28, 10, 1)
    budget = grid[len(grid) // 2]["macs"] * 1e-6 * 1.001
    measure = fake_target()
    picked = scale_to_budget(spec, budget, measure, input_size=28, num_classes=10, in_channels=1)
    assert picked["meets_budget"] and picked["measured_ms"] <= budget
    assert picked["macs"] == max(g["macs"] for g in grid if g["macs"] * 1e-6 <= budget)
    assert len(measure.calls) <= 10 < len(grid)  # a bisection, not the whole grid


def test_a_network_slower_than_its_macs_say_is_passed_over():
    spec = zoo.get("mobilenetv2_100").spec
    grid = scaled_grid(spec, 28, 10, 1)
    edge = max(i for i, g in enumerate(grid) if g["macs"] * 1e-6 <= grid[len(grid) // 2]["macs"] * 1e-6 * 1.001)
    budget = grid[edge]["macs"] * 1e-6 * 1.001
    picked = scale_to_budget(spec, budget, fake_target(bumps={grid[edge]["arch"]: 2.0}), input_size=28,
                             num_classes=10, in_channels=1)
    assert picked["arch"] != grid[edge]["arch"] and picked["measured_ms"] <= budget


def test_a_budget_below_the_lightest_scaling_is_flagged():
    spec = zoo.get("mobilenetv2_100").spec
    picked = scale_to_budget(spec, 1e-9, fake_target(), input_size=28, num_classes=10, in_channels=1)
    assert not picked["meets_budget"] and picked["width"] == min(g["width"] for g in picked["measured"])
    with pytest.raises(ValueError, match="budget_ms"):
        scale_to_budget(spec, 0.0, fake_target(), input_size=28, num_classes=10, in_channels=1)


def test_the_report_compares_with_the_best_reference_that_fits():
    refs = [{"name": "big", "test_top1": 90.0, "measured_ms": 2.0}, {"name": "fits", "test_top1": 85.0,
                                                                     "measured_ms": 0.9},
            {"name": "worse", "test_top1": 80.0, "measured_ms": 0.5}]
    c = compare_with_references(86.0, 0.95, refs, 1.0)
    assert c["reference"] == "fits" and c["beat"] and c["difference"] == pytest.approx(1.0)
    assert "the searched network at 86.00 %" in c["text"] and "beat the best reference" in c["text"]
    lost = compare_with_references(84.0, 0.95, refs, 1.0)
    assert not lost["beat"] and "did not beat" in lost["text"]
    assert compare_with_references(84.0, 0.95, refs[:1], 1.0)["reference"] is None
    assert compare_with_references(84.0, 0.95, [], 1.0) is None
    use = budget_use({"max_latency_ms": 1.0}, 0.5, {"reason": "the space's heaviest network is lighter"})
    assert use["fraction"] == 0.5 and not use["in_band"] and "heaviest" in use["reason"]
    assert budget_use({"max_latency_ms": 1.0}, 0.95, {})["in_band"] and budget_use({}, 0.95, {}) is None


def test_a_reference_member_that_wins_the_finalists_is_named_as_such():
    from hwnas.report.summary import winner_label

    finals = {"winner": "ref:mobilenetv2_100", "finalists": [{"name": "search1", "source": "search"},
                                                             {"name": "ref:mobilenetv2_100", "source": "reference"}]}
    assert "closest to mobilenetv2_100" in winner_label(finals) and "beat every search candidate" in winner_label(finals)
    assert winner_label({**finals, "winner": "search1"}) == "the searched network (search1)"


def test_the_reference_leaves_the_same_margin_as_the_filling():
    spec = zoo.get("mobilenetv2_100").spec
    grid = scaled_grid(spec, 28, 10, 1)
    budget = grid[len(grid) // 2]["macs"] * 1e-6 * 1.001
    plain = scale_to_budget(spec, budget, fake_target(), input_size=28, num_classes=10, in_channels=1)
    kept = scale_to_budget(spec, budget, fake_target(), input_size=28, num_classes=10, in_channels=1, margin=0.03)
    assert kept["measured_ms"] <= 0.97 * budget and kept["macs"] <= plain["macs"]
    with pytest.raises(ValueError, match="margin"):
        scale_to_budget(spec, budget, fake_target(), input_size=28, num_classes=10, in_channels=1, margin=1.0)

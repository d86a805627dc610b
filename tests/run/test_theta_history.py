"""The report's architecture-distribution heatmap data for every kind of search history."""

from pathlib import Path

import pytest

from hwnas.report.summary import theta_history
from hwnas.search.parts.oneshot import value_shares

TINY = str(Path(__file__).resolve().parents[1] / "search" / "tiny_space.yaml")
GEOMETRY = {"input_size": 28, "in_channels": 1, "num_classes": 10, "width_mult": 1.0}
CHOICE = {"s0_b0_op": "k5", "s0_b1_op": "skip", "s0_depth": 2, "s1_b0_op": "k3", "s1_b0_width": 32,
          "s1_b1_op": "k3_se", "s1_b1_width": 16, "s1_depth": 1}


def result(history):
    return {"space": TINY, "geometry": GEOMETRY, "choice": CHOICE, "history": history}


def test_dnas_epochs_give_the_chosen_values_probability():
    history = [{"epoch": e, "probs": {"s0_b0_op": [0.2, 0.3, 0.5 + 0.1 * e], "s0_depth": [0.4, 0.6]}}
               for e in range(3)]
    theta = theta_history(result(history))
    assert theta["rows"] == ["s0_b0_op", "s0_depth"] and theta["cols"] == ["1", "2", "3"]
    assert theta["values"][0] == pytest.approx([0.5, 0.6, 0.7]) and theta["values"][1] == [0.6, 0.6, 0.6]


def test_hardcore_bcfw_snapshots_become_columns():
    snaps = [{"step": t, "probs": {"s1_b1_op": [0.5, 0.5 - 0.1 * t, 0.1 * t], "s1_depth": [1.0, 0.0]}}
             for t in (0, 4, 9)]
    theta = theta_history(result({"bcfw_probs": snaps, "alpha": {"s1_b1_op": [0, 0, 1]}}))
    assert "BCFW" in theta["kind"] and theta["cols"] == ["1", "5", "10"]
    assert theta["values"][0] == pytest.approx([0.0, 0.4, 0.9])  # k3_se, the chosen op, gains weight
    assert theta["values"][1] == [1.0, 1.0, 1.0]


def test_oneshot_rounds_give_the_share_of_candidates_with_the_chosen_value():
    first = [dict(CHOICE, s0_b0_op=op) for op in ("skip", "k3", "k5", "k5")]
    second = [dict(CHOICE) for _ in range(4)]  # converged
    rounds = [value_shares(first, 0), value_shares(second, 1)]
    theta = theta_history(result({"rounds": rounds, "candidates": []}))
    assert "round" in theta["kind"] and theta["cols"] == ["1", "2"]
    row = theta["rows"].index("s0_b0_op")
    assert theta["values"][row] == pytest.approx([0.5, 1.0])
    assert "s1_b0_width" not in theta["rows"]  # widths are not distributions the search learned


def test_no_history_means_no_heatmap():
    assert theta_history(result(None)) is None
    assert theta_history(result({"candidates": []})) is None

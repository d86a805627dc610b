"""The one expected-cost formula: its sink-connect rule, and its torch and numpy views against a brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hwnas.cost.penalty import expected_numpy, expected_torch, sink_start, slot_active_numpy
from hwnas.space import get_space


@pytest.fixture(scope="module")
def space():
    return get_space("tfnas", 32)  # stages with 2, 3 and 4 allowed depths


def random_problem(space, seed: int):
    rng = np.random.default_rng(seed)
    costs = {s.op_label: rng.random(len(s.candidates)) for s in space.slots()}
    alpha = {s.op_label: rng.dirichlet(np.ones(len(s.candidates))) for s in space.slots()}
    beta = {f"s{i}_depth": rng.dirichlet(np.ones(len(space.slots_by_stage[i]) - low + 1))
            for i, low in space.min_depth.items()}
    return costs, alpha, beta


def brute_force(space, fixed: float, costs, alpha, beta) -> float:
    """Sum over every depth combination of its probability times the expected cost of its first d slots."""
    stages = list(enumerate(space.slots_by_stage))
    depths = [range(space.min_depth.get(s, len(st)), len(st) + 1) for s, st in stages]
    total = 0.0
    for combo in itertools.product(*depths):
        p, cost = 1.0, fixed
        for (s, stage), d in zip(stages, combo):
            if s in space.min_depth:
                p *= beta[f"s{s}_depth"][d - space.min_depth[s]]
            cost += sum(alpha[slot.op_label] @ costs[slot.op_label] for slot in stage[:d])
        total += p * cost
    return total


def test_a_slot_runs_at_the_depths_past_it():
    assert [sink_start(j, 2) for j in range(4)] == [None, None, 1, 2]
    assert [sink_start(j, 0) for j in range(2)] == [1, 2]  # q[0] is P(depth 0): no slot runs


def test_both_views_equal_the_expectation_over_depths(space):
    for seed in range(3):
        costs, alpha, beta = random_problem(space, seed)
        want = brute_force(space, 0.5, costs, alpha, beta)
        got_np = expected_numpy(space, np.array([0.5]), {k: v[None, :] for k, v in costs.items()}, alpha, beta)
        got_torch = expected_torch(space, {k: torch.tensor(v) for k, v in alpha.items()},
                                   lambda slot, _: torch.tensor(costs[slot.op_label]), 0.5,
                                   {k: torch.tensor(v) for k, v in beta.items()})
        assert float(got_np[0]) == pytest.approx(want, rel=1e-12)
        assert float(got_torch) == pytest.approx(want, rel=1e-12)


def test_batched_rows_are_each_rows_own_expectation(space):
    costs, _, _ = random_problem(space, 0)
    rows = [random_problem(space, seed)[1:] for seed in range(1, 5)]
    ops = {k: torch.tensor(np.stack([a[k] for a, _ in rows])) for k in costs}
    depth = {k: torch.tensor(np.stack([b[k] for _, b in rows])) for k in rows[0][1]}
    batched = expected_torch(space, ops, lambda slot, _: torch.tensor(costs[slot.op_label]), 0.0, depth)
    assert batched.shape == (len(rows),)
    for i, (alpha, beta) in enumerate(rows):
        assert float(batched[i]) == pytest.approx(brute_force(space, 0.0, costs, alpha, beta), rel=1e-12)


def test_max_reduce_is_the_largest_weighted_slot_term(space):
    costs, alpha, _ = random_problem(space, 7)
    got = expected_torch(space, {k: torch.tensor(v) for k, v in alpha.items()},
                         lambda slot, _: torch.tensor(costs[slot.op_label]), 0.0, reduce="max")
    assert float(got) == pytest.approx(max(alpha[k] @ costs[k] for k in costs), rel=1e-12)
    with pytest.raises(ValueError, match="reduce"):
        expected_torch(space, {}, lambda slot, _: None, 0.0, reduce="mean")


def test_slots_below_the_smallest_depth_always_count(space):
    _, _, beta = random_problem(space, 3)
    active = slot_active_numpy(space, beta)
    for s, low in space.min_depth.items():
        stage = space.slots_by_stage[s]
        assert [active[slot.label] for slot in stage[:low]] == [1.0] * low
        assert active[stage[-1].label] == pytest.approx(beta[f"s{s}_depth"][-1])

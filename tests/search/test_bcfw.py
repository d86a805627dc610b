"""HardCoRe-NAS's Frank-Wolfe: the LP oracle is optimal and feasible, every iterate meets the budgets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hwnas.cost.separable import SeparableCost
from hwnas.search.budgets import Budgets, make_budgets
from hwnas.search.methods.hardcore import one_hot_dists
from hwnas.search.parts.bcfw import BCFWConfig, LinearBudgets, bcfw, feasible_start, solve_lp, sparsify


def lagrangian_bound(c, a, b):
    """max over lam >= 0 of sum_l min_i (c + lam a) - lam b: equal to the LP optimum (strong duality)."""
    best = -np.inf
    for lam in np.concatenate([[0.0], np.geomspace(1e-4, 1e4, 4000)]):
        best = max(best, sum(float(np.min(cl + lam * al[0])) for cl, al in zip(c, a)) - lam * b[0])
    return best


@pytest.mark.parametrize("seed", range(8))
def test_single_budget_lp_is_optimal_and_tight(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 6, size=5)
    c = [rng.normal(size=k) for k in sizes]
    a = [rng.uniform(0.1, 1.0, size=(1, k)) for k in sizes]
    lightest = sum(float(al.min()) for al in a)
    heaviest = sum(float(al.max()) for al in a)
    b = np.array([lightest + (heaviest - lightest) * rng.uniform(0.05, 0.9)])
    fallback = [np.eye(len(al[0]))[int(al[0].argmin())] for al in a]
    x = solve_lp(c, a, b, fallback)
    for xl in x:
        assert xl.min() >= -1e-12 and abs(xl.sum() - 1) < 1e-9
    use = sum(float(al[0] @ xl) for al, xl in zip(a, x))
    value = sum(float(cl @ xl) for cl, xl in zip(c, x))
    assert use <= b[0] + 1e-9
    assert value == pytest.approx(lagrangian_bound(c, a, b), abs=1e-3)
    # never worse than the best feasible vertex
    vertices = [v for v in itertools.product(*(range(k) for k in sizes))
                if sum(al[0][i] for al, i in zip(a, v)) <= b[0]]
    assert value <= min(sum(cl[i] for cl, i in zip(c, v)) for v in vertices) + 1e-9


def test_several_budgets_are_all_met(tiny, tiny_table):
    rng = np.random.default_rng(0)
    sizes = [3, 4, 2, 5]
    c = [rng.normal(size=k) for k in sizes]
    a = [rng.uniform(0.1, 1.0, size=(2, k)) for k in sizes]
    b = np.array([2.0, 2.2])
    fallback = [np.eye(k)[int(np.argmin(al.sum(0)))] for k, al in zip(sizes, a)]
    assert np.all(sum(al @ f for al, f in zip(a, fallback)) <= b)
    x = solve_lp(c, a, b, fallback)
    assert np.all(sum(al @ xl for al, xl in zip(a, x)) <= b + 1e-9)


def brute_force_lp(c, a, b):
    """The LP optimum by enumerating every basis of its standard form (slacks added): the best basic feasible
    solution. Independent of any LP solver; fine for a dozen variables."""
    keep = [np.isfinite(cl) for cl in c]
    cost = np.concatenate([cl[k] for cl, k in zip(c, keep)])
    a_ub = np.concatenate([al[:, k] for al, k in zip(a, keep)], axis=1)
    m, n, blocks = len(b), len(cost), len(c)
    a_eq = np.zeros((blocks, n))
    start = np.cumsum([0, *[int(k.sum()) for k in keep]])
    for l in range(blocks):
        a_eq[l, start[l]:start[l + 1]] = 1.0
    matrix = np.block([[a_eq, np.zeros((blocks, m))], [a_ub, np.eye(m)]])  # [x, slack] >= 0
    rhs = np.concatenate([np.ones(blocks), b])
    best = np.inf
    for basis in itertools.combinations(range(n + m), blocks + m):
        sub = matrix[:, basis]
        if abs(np.linalg.det(sub)) < 1e-10:
            continue
        z = np.linalg.solve(sub, rhs)
        if z.min() < -1e-9:
            continue
        full = np.zeros(n + m)
        full[list(basis)] = z
        best = min(best, float(cost @ full[:n]))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_multi_budget_lp_equals_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    blocks, m = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    sizes = rng.integers(2, 5, size=blocks)
    c = [rng.normal(size=k) for k in sizes]
    a = [rng.uniform(0.1, 1.0, size=(m, k)) for k in sizes]
    if seed % 3 == 0:  # a candidate a max-type budget excludes
        c[0][int(rng.integers(sizes[0]))] = np.inf
    fallback = []
    for cl, al in zip(c, a):  # a feasible vertex: each block's allowed candidate of least total use
        use = np.where(np.isfinite(cl), al.sum(0), np.inf)
        fallback.append(np.eye(len(cl))[int(np.argmin(use))])
    low = sum(al @ f for al, f in zip(a, fallback))
    high = sum(al.max(1) for al in a)
    b = low + (high - low) * rng.uniform(0.05, 0.8, size=m)
    x = solve_lp(c, a, b, fallback)
    for xl, cl in zip(x, c):
        assert xl.min() >= -1e-12 and abs(xl.sum() - 1) < 1e-9
        assert np.all(xl[~np.isfinite(cl)] == 0)
    assert np.all(sum(al @ xl for al, xl in zip(a, x)) <= b + 1e-9)
    value = sum(float(np.where(np.isfinite(cl), cl, 0.0) @ xl) for cl, xl in zip(c, x))
    assert value == pytest.approx(brute_force_lp(c, a, b), abs=1e-7)


def test_every_bcfw_iterate_is_feasible(tiny, tiny_table):
    separable = SeparableCost(tiny_table, tiny)
    low, high = separable.minimum(largest_widths=True), separable.cost(tiny.heaviest())
    budgets = make_budgets(Budgets(max_latency_ms=low + 0.3 * (high - low), max_params=1e5), tiny, tiny_table)
    lin = LinearBudgets.from_budgets(tiny, budgets)
    start = separable.lightest(largest_widths=True)
    alpha, beta = feasible_start(lin, *one_hot_dists(tiny, start))
    assert np.all(lin.expected(alpha, beta) <= lin.limits + 1e-9)
    rng = np.random.default_rng(0)
    seen = []

    def grad(a, b):  # a noisy gradient pulling towards the heaviest candidates (against the budget)
        return {k: -np.arange(len(v), dtype=float) + rng.normal(scale=0.5, size=len(v)) for k, v in {**a, **b}.items()}

    alpha, beta = bcfw(lin, alpha, beta, grad, BCFWConfig(steps=60), rng,
                       lambda t, a, b, e: seen.append(e.copy()))
    assert len(seen) == 60
    assert all(np.all(e <= lin.limits * (1 + 1e-9)) for e in seen)
    assert max(float(e[0]) for e in seen) > 0.9 * lin.limits[0]  # it does push against the budget
    for dist in {**alpha, **beta}.values():
        assert dist.min() >= -1e-12 and abs(dist.sum() - 1) < 1e-9
    vertex_a, vertex_b = sparsify(lin, alpha, beta, 10)
    assert np.all(lin.expected(vertex_a, vertex_b) <= lin.limits * (1 + 1e-9))
    fractional = sum(int(np.sum((v > 1e-6) & (v < 1 - 1e-6)) > 0) for v in vertex_a.values())
    assert fractional <= len(lin.limits)


def test_step_rules():
    """``fw``: 2/(t+2) over 300 steps; ``fixed``: HardCoRe-NAS's code, 0.002 every step over 1000 steps."""
    fw, fixed = BCFWConfig(), BCFWConfig(step="fixed")
    assert (fw.total_steps, fw.step_size(0), fw.step_size(8)) == (300, 1.0, 0.2)
    assert (fixed.total_steps, fixed.step_size(0), fixed.step_size(999)) == (1000, 0.002, 0.002)
    assert BCFWConfig(gamma=0.01).step_size(3) == 0.01 and BCFWConfig(steps=5, step="fixed").total_steps == 5
    with pytest.raises(ValueError, match="bcfw step must be one of"):
        BCFWConfig(step="adam")
    with pytest.raises(ValueError, match="gamma"):
        BCFWConfig(gamma=0.0)

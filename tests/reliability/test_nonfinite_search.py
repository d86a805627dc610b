"""NaN/inf in the loss or the gradients of every search method: skipped by the stated policy, never trained
through; architecture parameters never become NaN; a run of them stops with a clear error.

The policy (hwnas.search.parts.engine, dnas, bcfw): a weight step, architecture step or BCFW step whose loss or gradient
is not finite is skipped (nothing it would have changed changes), and ten in a row raise NonFiniteLossError.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hwnas.cost.separable import SeparableCost
from hwnas.search import Budgets, search
from hwnas.search.budgets import make_budgets
from hwnas.search.methods.hardcore import one_hot_dists
from hwnas.search.parts.arch_params import ArchParams
from hwnas.search.parts.bcfw import BCFWConfig, LinearBudgets, bcfw, feasible_start
from hwnas.search.parts.dnas import DnasParts
from hwnas.search.parts.engine import WeightTrainer
from hwnas.supernet import Supernet
from hwnas.train import NonFiniteLossError
from tests.search.test_methods import SMALL, TINY_YAML, target


class _NanGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


def faulty_cross_entropy(monkeypatch, nan_loss=lambda i: False, nan_grad=lambda i: False):
    """Every F.cross_entropy call of the search counted; chosen ones return NaN, or a loss whose gradient is NaN."""
    real, calls = F.cross_entropy, [0]

    def patched(*args, **kwargs):
        i = calls[0]
        calls[0] += 1
        out = real(*args, **kwargs)
        if nan_loss(i):
            return out * float("nan")
        if nan_grad(i) and out.requires_grad:
            return _NanGrad.apply(out)
        return out

    monkeypatch.setattr(F, "cross_entropy", patched)
    return calls


def finite_numbers(data) -> bool:
    if isinstance(data, float):
        return math.isfinite(data)
    if isinstance(data, dict):
        return all(finite_numbers(v) for v in data.values())
    if isinstance(data, list):
        return all(finite_numbers(v) for v in data)
    return True


def run(method, out, lut, data, space):
    budgets = Budgets(max_latency_ms=target(space, lut, 0.6))
    return search(method, TINY_YAML, "fashion-mnist", out=out, lut=lut, budgets=budgets, overrides=SMALL[method],
                  batch_size=32, data_dir=str(data), progress=False, tensorboard=False)


@pytest.mark.parametrize("method", list(SMALL))
def test_scattered_nan_losses_and_gradients_are_skipped(method, tmp_path, monkeypatch, search_lut, fashion_dir,
                                                        search_space):
    calls = faulty_cross_entropy(monkeypatch, nan_loss=lambda i: i % 7 == 3, nan_grad=lambda i: i % 7 == 5)
    result = run(method, tmp_path, search_lut, fashion_dir, search_space)
    assert calls[0] > 7  # the faults were reached
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["arch"] == result["arch"] and result["choice"]
    probs = result["history"] if method in ("fbnet", "tfnas") else result["history"].get("alpha", {})
    assert finite_numbers(probs)  # theta / alpha never became NaN (None stands for a skipped epoch mean)
    if method in ("fbnet", "tfnas"):
        for epoch in result["history"]:
            assert all(math.isfinite(p) for dist in epoch["probs"].values() for p in dist)


@pytest.mark.parametrize("method", list(SMALL))
def test_a_run_of_nan_losses_stops_with_a_clear_error(method, tmp_path, monkeypatch, search_lut, fashion_dir,
                                                      search_space):
    faulty_cross_entropy(monkeypatch, nan_loss=lambda i: True)
    with pytest.raises(NonFiniteLossError, match="consecutive"):
        run(method, tmp_path, search_lut, fashion_dir, search_space)


def test_an_architecture_step_with_a_nan_gradient_leaves_theta_untouched(search_space):
    supernet, params = Supernet(search_space), ArchParams(search_space)
    with torch.no_grad():
        for p in params.parameters():
            p.normal_()
    theta_opt = torch.optim.Adam(params.parameters(), lr=0.1)
    parts = DnasParts(supernet, params, WeightTrainer(supernet, 10), theta_opt, torch.Generator())
    before = {k: v.detach().clone() for k, v in params.state_dict().items()}

    def nan_gradient_loss():
        return _NanGrad.apply(sum(torch.logsumexp(t, 0) for t in params.logits.values()))

    for _ in range(9):
        parts.theta_update(nan_gradient_loss)
    after = params.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and not theta_opt.state
    with pytest.raises(NonFiniteLossError, match="10 consecutive architecture steps"):
        parts.theta_update(nan_gradient_loss)
    parts.nonfinite = 0
    parts.theta_update(lambda: sum(torch.logsumexp(t, 0) for t in params.logits.values()))  # a good step moves
    assert any(not torch.equal(before[k], params.state_dict()[k]) for k in before)


def test_bcfw_skips_nan_gradients_and_stays_feasible(tiny, tiny_table):
    separable = SeparableCost(tiny_table, tiny)
    low, high = separable.minimum(largest_widths=True), separable.cost(tiny.heaviest())
    budgets = make_budgets(Budgets(max_latency_ms=low + 0.3 * (high - low)), tiny, tiny_table)
    lin = LinearBudgets.from_budgets(tiny, budgets)
    alpha, beta = feasible_start(lin, *one_hot_dists(tiny, separable.lightest(largest_widths=True)))
    rng, step = np.random.default_rng(0), [0]

    def grad(a, b):
        step[0] += 1
        bad = step[0] % 3 == 0
        return {k: np.full(len(v), np.nan) if bad else -np.arange(len(v), dtype=float) for k, v in {**a, **b}.items()}

    seen = []
    alpha, beta = bcfw(lin, alpha, beta, grad, BCFWConfig(steps=30), rng, lambda t, a, b, e: seen.append(e.copy()))
    assert len(seen) == 30 and all(np.all(e <= lin.limits * (1 + 1e-9)) for e in seen)
    assert all(np.all(np.isfinite(d)) for d in {**alpha, **beta}.values())
    with pytest.raises(NonFiniteLossError, match="BCFW"):
        bcfw(lin, alpha, beta, lambda a, b: {k: np.full(len(v), np.inf) for k, v in {**a, **b}.items()},
             BCFWConfig(steps=30), rng)

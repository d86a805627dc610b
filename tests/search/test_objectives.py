"""The batched latency term equals the table's expectation; the FBNet and TF-NAS loss forms."""

from __future__ import annotations

import math

import pytest
import torch

from hwnas.cost.models import AnalyticCost
from hwnas.cost.separable import SeparableCost
from hwnas.search.parts.objectives import LinearCost, fbnet_loss, tfnas_loss


def random_probs(space, batch=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    shape = (lambda n: (batch, n)) if batch else (lambda n: (n,))
    ops = {s.op_label: torch.softmax(torch.randn(shape(len(s.candidates)), generator=gen), -1) for s in space.slots()}
    depth = {f"s{i}_depth": torch.softmax(torch.randn(shape(len(space.slots_by_stage[i]) - low + 1), generator=gen), -1)
             for i, low in space.min_depth.items()}
    return ops, depth


def test_linear_cost_equals_the_expected_latency(tiny, tiny_table):
    cost = LinearCost(SeparableCost(tiny_table, tiny))
    ops, depth = random_probs(tiny)
    want = tiny_table.expected(tiny, {k: v.double() for k, v in ops.items()},
                               {k: v.double() for k, v in depth.items()})
    assert float(cost(ops, depth)) == pytest.approx(float(want), rel=1e-5)


def test_batched_rows_are_each_samples_own_cost(tiny, tiny_table):
    cost = LinearCost(SeparableCost(tiny_table, tiny))
    ops, depth = random_probs(tiny, batch=5, seed=1)
    batched = cost(ops, depth)
    assert batched.shape == (5,)
    for i in range(5):
        row = cost({k: v[i] for k, v in ops.items()}, {k: v[i] for k, v in depth.items()})
        assert float(batched[i]) == pytest.approx(float(row), rel=1e-6)


def test_peak_memory_is_refused_as_a_loss_term(tiny):
    with pytest.raises(ValueError, match="not a sum"):
        LinearCost(SeparableCost(AnalyticCost.for_space("peak_bytes", tiny), tiny))


def test_fbnet_loss_is_ce_times_alpha_log_latency_in_us_to_the_beta():
    ce, lat = torch.tensor([2.0, 1.0]), torch.tensor([5.0, 0.5])  # ms
    want = [2.0 * 0.2 * math.log(5000.0) ** 0.6, 1.0 * 0.2 * math.log(500.0) ** 0.6]
    assert float(fbnet_loss(ce, lat)) == pytest.approx(sum(want) / 2)
    assert float(fbnet_loss(ce, lat, form="additive")) == pytest.approx(
        (2.0 + 1.0 + 0.2 * math.log(5000.0) ** 0.6 + 0.2 * math.log(500.0) ** 0.6) / 2)
    with pytest.raises(ValueError, match="loss form"):
        fbnet_loss(ce, lat, form="other")


def test_tfnas_loss_pulls_to_the_target_from_both_sides():
    ce = torch.tensor(1.0)
    assert float(tfnas_loss(ce, torch.tensor(12.0), 10.0)) == pytest.approx(1.0 + 0.1 * 0.2)
    assert float(tfnas_loss(ce, torch.tensor(8.0), 10.0)) == pytest.approx(1.0 + 0.1 * 0.2)


def test_fbnet_without_a_table_has_a_gradient_on_networks_under_a_million_macs(search_space):
    """MACs stand in for latency: in thousands, so log(LAT) stays > 1 for the tiny space's networks (0.08-0.7 M
    MACs; in millions they were clamped and the loss was about 0: nothing trained)."""
    from types import SimpleNamespace

    from hwnas.cost import count_macs
    from hwnas.search.methods.fbnet import loss_cost

    cost = LinearCost(loss_cost(SimpleNamespace(latency=None, space=search_space)))
    heaviest = count_macs(search_space.to_spec(search_space.heaviest()), 28, num_classes=10, in_channels=1)
    assert heaviest < 1e6
    theta = {slot.op_label: torch.zeros(1, len(slot.candidates), requires_grad=True)
             for slot in search_space.slots()}
    ce = torch.tensor([2.3])
    lat = cost({k: torch.softmax(v, dim=-1) for k, v in theta.items()})
    loss = fbnet_loss(ce, lat)
    assert float(loss.detach()) > 0.5 * 2.3  # the factor 0.2 log(kMACs)^0.6 is about 0.5-0.7 here, not 1e-4
    loss.backward()
    grads = torch.cat([v.grad.flatten() for v in theta.values()])
    assert grads.abs().max() > 1e-3
    # the cheapest candidate of a slot is pushed up, the dearest down (the latency term's direction)
    slot = search_space.slots()[-1]
    terms = loss_cost(SimpleNamespace(latency=None, space=search_space)).terms(slot)
    g = theta[slot.op_label].grad[0]
    assert g[terms.index(max(terms))] > g[terms.index(min(terms))]

"""FBNet's per-sample Gumbel masks and the per-sample supernet forward."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from hwnas.search.methods.fbnet import masks
from hwnas.search.parts.arch_params import ArchParams, gumbel_softmax
from hwnas.supernet import Supernet


def test_noise_is_drawn_per_sample():
    logits = torch.zeros(9)
    m = gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(0), batch=64)
    assert m.shape == (64, 9)
    assert torch.allclose(m.sum(1), torch.ones(64))
    assert len({tuple(row.round(decimals=5).tolist()) for row in m}) == 64  # every sample its own mask
    picked = m.argmax(1)
    assert len(set(picked.tolist())) > 3  # and its own sampled block


def test_hard_masks_are_one_hot_with_soft_gradients():
    logits = torch.zeros(5, requires_grad=True)
    m = gumbel_softmax(logits, 2.0, torch.Generator().manual_seed(1), batch=8, hard=True)
    assert set(m.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.all(m.detach().sum(1) == 1)
    (m * torch.arange(5.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_samples_follow_the_softmax_of_theta():
    logits = torch.tensor([0.0, 1.0, 2.0])
    m = gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(2), batch=20000, hard=True)
    freq = m.mean(0)
    assert torch.allclose(freq, torch.softmax(logits, 0), atol=0.02)  # Gumbel-max samples the categorical


@pytest.fixture(scope="module")
def net(search_space):
    torch.manual_seed(0)
    return Supernet(search_space).eval()


def one_hot_rows(search_space, choice, batch):
    ops, depth = {}, {}
    for dim in search_space.dims():
        if dim.label.endswith("_width"):
            continue
        row = F.one_hot(torch.tensor(dim.values.index(choice[dim.label])), len(dim.values)).float()
        (ops if dim.label.endswith("_op") else depth)[dim.label] = row.repeat(batch, 1)
    return ops, depth


@pytest.mark.parametrize("hard", [False, True])
def test_per_sample_forward_equals_the_single_path_of_each_sample(net, search_space, hard):
    x = torch.randn(6, 1, 28, 28)
    rng = random.Random(0)
    choices = [{**search_space.sample(rng), **{s.width_label: s.widths[-1] for s in search_space.slots()
                                               if s.widths}} for _ in range(6)]
    ops = {k: torch.cat([one_hot_rows(search_space, c, 1)[0][k] for c in choices]) for k in choices[0]
           if k.endswith("_op")}
    depth = {k: torch.cat([one_hot_rows(search_space, c, 1)[1][k] for c in choices]) for k in choices[0]
             if k.endswith("_depth")}
    with torch.no_grad():
        out = net.forward_per_sample(x, ops, depth, hard=hard)
        for i, choice in enumerate(choices):
            net.set_active(choice)
            assert torch.allclose(out[i], net(x[i:i + 1])[0], atol=1e-5), (i, choice)


def test_per_sample_weights_are_checked(net, search_space):
    ops, depth = one_hot_rows(search_space, search_space.heaviest(), 4)
    with pytest.raises(ValueError, match="must have shape"):
        net.forward_per_sample(torch.randn(3, 1, 28, 28), ops, depth)


def test_fbnet_masks_reach_theta_through_the_loss(net, search_space):
    params = ArchParams(search_space)
    ops, depth = masks(params, 5.0, 4, torch.Generator().manual_seed(0), hard=True, device=torch.device("cpu"))
    out = net.forward_per_sample(torch.randn(4, 1, 28, 28), ops, depth, hard=True)
    out.sum().backward()
    assert all(p.grad is not None for p in params.parameters())

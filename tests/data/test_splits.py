"""Seeded index splits."""

from __future__ import annotations

import pytest
import torch

from hwnas.data import limit_indices, split_indices, weight_arch_split


def test_deterministic_disjoint_and_covering():
    a = split_indices(1000, (0.8, 0.2), seed=3)
    b = split_indices(1000, (0.8, 0.2), seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert [len(p) for p in a] == [800, 200]
    assert sorted(torch.cat(a).tolist()) == list(range(1000))
    assert not set(a[0].tolist()) & set(a[1].tolist())
    assert not torch.equal(a[1], split_indices(1000, (0.8, 0.2), seed=4)[1])


def test_three_way_split_sizes():
    parts = split_indices(10, (0.5, 0.3, 0.2), seed=0)
    assert [len(p) for p in parts] == [5, 3, 2]


def test_stratified_keeps_class_proportions():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    weights, arch = weight_arch_split(100, seed=1, labels=labels)
    assert torch.bincount(labels[arch]).tolist() == [10, 6, 4]
    assert torch.bincount(labels[weights]).tolist() == [40, 24, 16]
    assert sorted(torch.cat([weights, arch]).tolist()) == list(range(100))


@pytest.mark.parametrize("fractions", [(0.5, 0.4), (1.2, -0.2), (), (0.0, 1.0)])
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_indices(10, fractions, seed=0)


def test_bad_labels_and_seed():
    with pytest.raises(ValueError, match="labels"):
        split_indices(10, seed=0, labels=torch.zeros(9))
    with pytest.raises(ValueError, match="seed"):
        split_indices(10, seed=-1)


def test_limit_indices():
    picked = limit_indices(100, 10, seed=5)
    assert len(picked) == 10 and torch.equal(picked, limit_indices(100, 10, seed=5))
    assert picked.tolist() == sorted(set(picked.tolist()))
    assert picked.tolist() != list(range(10))  # a shuffle, not the head
    assert torch.equal(limit_indices(5, 10, seed=0), torch.arange(5))
    assert torch.equal(limit_indices(5, None, seed=0), torch.arange(5))
    with pytest.raises(ValueError, match="limit"):
        limit_indices(5, 0, seed=0)

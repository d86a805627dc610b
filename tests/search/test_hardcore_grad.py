"""HardCoRe-NAS's BCFW gradient (Nayman et al. 2021, Sec. 3.3): the batch mean of the per-sample gradients of the
arch-split cross-entropy with respect to each sample's hard Gumbel mask, whatever the batch size."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hwnas.distributed import World
from hwnas.search.methods.hardcore import HardCoReConfig, make_grad_fn, one_hot_dists
from hwnas.search.parts.arch_params import gumbel_softmax
from hwnas.search.parts.engine import build_supernet
from hwnas.space.labels import is_depth_label, is_op_label


class OneBatch:
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.batch = (x, y)

    def epoch_batches(self, epoch: int):
        return [self.batch]


def reference_mean(supernet, x, y, alpha, beta, seed):
    """The same masks as make_grad_fn draws, each sample run alone: mean over samples of d CE_i / d mask_i."""
    generator = torch.Generator().manual_seed(seed)
    rows = x.shape[0]
    masks = {}
    for label, p in {**alpha, **beta}.items():
        logits = torch.log(torch.as_tensor(p, dtype=torch.float32).clamp_min(1e-12))
        masks[label] = gumbel_softmax(logits, 1.0, generator, rows, hard=True).detach()
    total = {label: np.zeros(m.shape[1]) for label, m in masks.items()}
    supernet.eval()
    for i in range(rows):
        row = {k: m[i:i + 1].clone().requires_grad_(True) for k, m in masks.items()}
        ops = {k: v for k, v in row.items() if is_op_label(k)}
        depth = {k: v for k, v in row.items() if is_depth_label(k)} or None
        F.cross_entropy(supernet.forward_per_sample(x[i:i + 1], ops, depth), y[i:i + 1]).backward()
        for k, m in row.items():
            total[k] += m.grad[0].double().numpy() / rows
    return total


@pytest.mark.parametrize("rows", [4, 10])
def test_grad_is_the_batch_mean(search_space, rows):
    torch.manual_seed(0)
    cfg = HardCoReConfig(grad_batch=None, grad_batches=1, grad_mode="all")
    supernet = build_supernet(search_space, cfg)
    x, y = torch.randn(rows, 1, 28, 28), torch.randint(10, (rows,))
    ctx = SimpleNamespace(loaders=SimpleNamespace(val=OneBatch(x, y)), world=World(), device=torch.device("cpu"),
                          use_channels_last=False)
    alpha, beta = one_hot_dists(search_space, search_space.heaviest())
    alpha = {k: np.full(len(v), 1.0 / len(v)) for k, v in alpha.items()}
    beta = {k: np.full(len(v), 1.0 / len(v)) for k, v in beta.items()}
    got = make_grad_fn(ctx, supernet, cfg, torch.Generator().manual_seed(7))(alpha, beta)
    want = reference_mean(supernet, x, y, alpha, beta, seed=7)
    assert set(got) == set(want)
    for label in want:
        np.testing.assert_allclose(got[label], want[label], rtol=1e-4, atol=1e-6)
    assert any(np.abs(g).max() > 1e-4 for g in got.values())  # not trivially zero

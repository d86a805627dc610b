"""NASWOT (Mellor et al. 2021, Eq. 2): the Hamming kernel of ReLU codes and its log-determinant."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.search.parts.zero_cost import agreement, naswot_score


def test_agreement_counts_the_units_two_inputs_share():
    codes = torch.tensor([[1, 0, 1, 1], [1, 1, 0, 1], [0, 0, 0, 0]])
    # N_A - d_H: inputs 0 and 1 differ on 2 of 4 units, 0 and 2 on 3, 1 and 2 on 3
    expected = torch.tensor([[4, 2, 1], [2, 4, 1], [1, 1, 4]], dtype=torch.float64)
    assert torch.equal(agreement(codes), expected)


def test_score_is_the_log_determinant_of_the_hamming_kernel():
    torch.manual_seed(0)
    first, second = nn.Linear(6, 16), nn.Linear(16, 8)
    model = nn.Sequential(first, nn.ReLU(), second, nn.ReLU())
    x = torch.randn(5, 6)
    with torch.no_grad():
        h1 = first(x) > 0
        h2 = second(torch.relu(first(x))) > 0
    codes = torch.cat([h1, h2], 1).numpy().astype(int)
    units = codes.shape[1]
    hamming = (codes[:, None, :] != codes[None, :, :]).sum(-1)
    sign, logdet = np.linalg.slogdet(units - hamming)
    assert sign > 0
    model.eval()
    assert naswot_score(model, x) == pytest.approx(logdet, rel=1e-9)
    assert not model.training  # the caller's mode is restored


def test_repeated_inputs_give_a_singular_kernel():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    x = torch.randn(1, 1, 6, 6).repeat(3, 1, 1, 1)
    assert naswot_score(model, x) == -math.inf


def test_a_network_without_rectifiers_is_an_error():
    with pytest.raises(ValueError, match="no ReLU/ReLU6 module"):
        naswot_score(nn.Sequential(nn.Linear(3, 3), nn.Tanh()), torch.randn(4, 3))


def test_hooks_are_removed_and_a_built_network_scores():
    from hwnas.nn import build_model
    from hwnas.space import get_space

    space = get_space("fbnet", 28, 1, 10, 0.25)
    model = build_model(space.to_spec(space.heaviest()), 10, 1)
    x = torch.randn(8, 1, 28, 28)
    torch.manual_seed(0)
    first = naswot_score(model, x)
    assert math.isfinite(first)
    assert all(not m._forward_hooks for m in model.modules())

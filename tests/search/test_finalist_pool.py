"""The DNAS finalist pool is topped up with more draws when a collapsed distribution repeats itself
(hwnas.search.parts.dnas.finalist_pool), and ArchParams draws at a temperature."""

from __future__ import annotations

import pytest
import torch

from hwnas.search.parts.arch_params import ArchParams
from hwnas.search.parts.dnas import TOP_UP_DRAWS, TOP_UP_TEMPERATURES, finalist_pool


def test_a_full_pool_takes_no_extra_draws():
    first = [{"a": 1}, {"a": 2}, {"a": 3}]
    pool, info = finalist_pool(first, 3, lambda t: pytest.fail("drew although the pool was full"))
    assert pool == first and info == {"draws": 0, "temperature": None, "distinct": 3}


def test_repeats_are_topped_up_from_flatter_draws_only_when_needed():
    calls = []

    def draw(temperature):  # collapsed at T = 1, distinct values once flattened
        calls.append(temperature)
        return {"a": 0} if temperature == 1.0 else {"a": len(calls)}

    pool, info = finalist_pool([{"a": 0}, {"a": 0}], 3, draw)
    assert len(pool) == 3 and pool[0] == {"a": 0}
    assert calls[:TOP_UP_DRAWS] == [1.0] * TOP_UP_DRAWS  # P_theta itself is tried first, fully
    assert set(calls[TOP_UP_DRAWS:]) == {2.0} and info["temperature"] == 2.0
    assert info["draws"] == TOP_UP_DRAWS + 2 and info["distinct"] == 3


def test_the_top_up_is_bounded_when_every_draw_repeats():
    pool, info = finalist_pool([{"a": 0}], 4, lambda t: {"a": 0})
    assert pool == [{"a": 0}]
    assert info == {"draws": TOP_UP_DRAWS * len(TOP_UP_TEMPERATURES), "temperature": TOP_UP_TEMPERATURES[-1],
                    "distinct": 1}


def test_sampling_temperature_flattens_a_collapsed_distribution(search_space):
    params = ArchParams(search_space)
    label = next(iter(params.logits))
    with torch.no_grad():
        params.logits[label].zero_()
        params.logits[label][0] = 4.0
    top = params.values[label][0]

    def share(temperature):
        gen = torch.Generator().manual_seed(0)
        return sum(params.sample(gen, temperature=temperature)[label] == top for _ in range(400)) / 400

    k = len(params.values[label])

    def expected(temperature):  # softmax of the logits / T
        return 1 / (1 + (k - 1) * torch.exp(torch.tensor(-4.0 / temperature)).item())

    for temperature in (1.0, 4.0):
        assert share(temperature) == pytest.approx(expected(temperature), abs=0.06)
    assert expected(1.0) - expected(4.0) > 0.15
    with pytest.raises(ValueError, match="temperature"):
        params.sample(torch.Generator(), temperature=0.0)

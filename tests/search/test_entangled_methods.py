"""Every method end to end on an entangled supernet, the sandwich rule with in-place distillation, and a trained
entangled supernet reused by --from-supernet (tiny space, fake Fashion-MNIST)."""

from __future__ import annotations

import json
import random

import pytest
import torch

from hwnas.search.parts.sandwich import sandwich_loss, sandwich_paths, soft_cross_entropy
from hwnas.supernet import Supernet

from .test_methods import QUICK, SMALL, binding, check_result, run

ENTANGLED = {"sharing": "entangled", "zero_init_residual": True}
SANDWICH = {**ENTANGLED, "sandwich": True, "sandwich_paths": 1, "distill": True, "lr_warmup_fraction": 0.25}


@pytest.mark.parametrize("method", list(SMALL))
def test_every_method_runs_on_an_entangled_supernet(method, tmp_path, search_space, fake_lut, fashion_dir):
    budgets = binding(search_space, fake_lut, {"max_latency_ms"}, method)
    result = run(method, tmp_path, fake_lut, fashion_dir, budgets, overrides={**QUICK[method], **ENTANGLED})
    check_result(result, tmp_path, budgets, search_space, fake_lut)
    assert result["config"]["sharing"] == "entangled"


def test_spos_with_the_sandwich_rule_and_reuse_of_its_entangled_supernet(tmp_path, search_space, fake_lut,
                                                                        fashion_dir):
    budgets = binding(search_space, fake_lut, {"max_latency_ms"}, "spos", fraction=0.8)
    first = run("spos", tmp_path / "a", fake_lut, fashion_dir, budgets, overrides={**QUICK["spos"], **SANDWICH})
    check_result(first, tmp_path / "a", budgets, search_space, fake_lut)
    info = json.loads((tmp_path / "a" / "supernet.json").read_text())
    assert info["config"]["sharing"] == "entangled" and info["config"]["sandwich"]
    tight = binding(search_space, fake_lut, {"max_latency_ms"}, "spos", fraction=0.3)
    for method in ("spos", "hardcore"):  # an entangled supernet is loaded as one, whatever the new config says
        again = run(method, tmp_path / method, fake_lut, fashion_dir, tight, from_supernet=tmp_path / "a",
                    overrides={"sharing": "independent"})
        assert again["predicted_latency_ms"] <= tight.max_latency_ms


def test_hardcore_defaults_to_its_own_superblock(tmp_path, search_space, fake_lut, fashion_dir):
    budgets = binding(search_space, fake_lut, {"max_latency_ms"}, "hardcore")
    result = run("hardcore", tmp_path, fake_lut, fashion_dir, budgets, overrides=QUICK["hardcore"])
    assert result["config"]["sharing"] == "entangled"


def test_distill_needs_the_sandwich_rule(tmp_path, search_space, fake_lut, fashion_dir):
    budgets = binding(search_space, fake_lut, {"max_latency_ms"}, "spos")
    with pytest.raises(ValueError, match="needs sandwich"):
        run("spos", tmp_path, fake_lut, fashion_dir, budgets, overrides={**QUICK["spos"], "distill": True})


def test_a_warmup_beyond_all_steps_is_refused(tmp_path, search_space, fake_lut, fashion_dir):
    budgets = binding(search_space, fake_lut, {"max_latency_ms"}, "spos")
    with pytest.raises(ValueError, match="lr_warmup_fraction must be in"):
        run("spos", tmp_path, fake_lut, fashion_dir, budgets, overrides={**QUICK["spos"], "lr_warmup_fraction": 1.5})


def test_sandwich_loss_trains_the_largest_on_labels_and_the_rest_on_its_predictions(search_space):
    torch.manual_seed(0)
    net = Supernet(search_space, sharing="entangled").train()
    x, y = torch.randn(6, 1, 28, 28), torch.randint(0, 10, (6,))
    largest, smallest = search_space.heaviest(), search_space.lightest()
    paths = sandwich_paths(largest, smallest, lambda: search_space.sample(random.Random(0)), 1)
    assert paths[:2] == [largest, smallest] and len(paths) == 3
    plain = sandwich_loss(net, x, y, paths, distill=False)
    net.set_active(largest)
    teacher = torch.softmax(net(x), 1).detach()
    expected = torch.nn.functional.cross_entropy(net(x), y)
    for choice in paths[1:]:
        net.set_active(choice)
        expected = expected + soft_cross_entropy(net(x), teacher)
    distilled = sandwich_loss(net, x, y, paths, distill=True)
    torch.testing.assert_close(distilled, expected)
    assert not torch.allclose(plain, distilled)
    distilled.backward()
    assert net.stem.conv.weight.grad is not None
    with pytest.raises(ValueError, match="non-negative"):
        sandwich_paths(largest, smallest, lambda: largest, -1)


def test_soft_cross_entropy_of_one_hot_targets_is_cross_entropy():
    logits, y = torch.randn(5, 4), torch.tensor([0, 3, 1, 2, 0])
    torch.testing.assert_close(soft_cross_entropy(logits, torch.nn.functional.one_hot(y, 4).float()),
                               torch.nn.functional.cross_entropy(logits, y))

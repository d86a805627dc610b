"""Mixture, sampled and single-path modes: agreement on one-hot weights, paths run, gradients, input errors."""

import random

import pytest
import torch

from hwnas.supernet import Supernet, sample_candidates
from .tiny_spaces import TINY_SPACES, perturb


def one_hot_weights(space, choice):
    """Op and depth weights that put all mass on ``choice`` (widths are passed separately)."""
    ops = {}
    for slot in space.slots():
        w = torch.zeros(len(slot.candidates))
        w[list(slot.candidates).index(choice[slot.op_label])] = 1.0
        ops[slot.op_label] = w
    depths = {}
    for s, stage in enumerate(space.slots_by_stage):
        if s in space.min_depth:
            w = torch.zeros(len(stage) - space.min_depth[s] + 1)
            w[choice[f"s{s}_depth"] - space.min_depth[s]] = 1.0
            depths[f"s{s}_depth"] = w
    widths = {s.width_label: choice[s.width_label] for s in space.slots() if s.widths is not None}
    return ops, depths, widths


def arch_logits(space, seed=0):
    """Random op and depth logits, as a search method would own them."""
    gen = torch.Generator().manual_seed(seed)
    ops = {s.op_label: torch.randn(len(s.candidates), generator=gen).requires_grad_() for s in space.slots()}
    depths = {f"s{s}_depth": torch.randn(len(stage) - space.min_depth[s] + 1, generator=gen).requires_grad_()
              for s, stage in enumerate(space.slots_by_stage) if s in space.min_depth}
    return ops, depths


@pytest.mark.parametrize("name", sorted(TINY_SPACES))
def test_one_hot_mixture_and_sampling_equal_single_path(name):
    """Sink-connecting with a one-hot depth and a one-hot op mixture is exactly the chosen single path."""
    space = TINY_SPACES[name]()
    net = perturb(Supernet(space)).eval()
    x = torch.randn(2, space.geometry.in_channels, 32, 32)
    rng = random.Random(0)
    for _ in range(10):
        choice = space.sample(rng)
        net.set_active(choice)
        ops, depths, widths = one_hot_weights(space, choice)
        with torch.no_grad():
            expected = net(x)
            torch.testing.assert_close(net.forward_mixture(x, ops, depths, widths), expected, atol=1e-6, rtol=0)
            # Zero-probability candidates are never drawn, so k=2 falls back to the one gated path.
            sampled = net.forward_sampled(x, ops, 2, generator=torch.Generator(), depth_weights=depths, widths=widths)
            torch.testing.assert_close(sampled, expected, atol=1e-6, rtol=0)
            # TF-NAS weight step: the named paths, depths mixed, no op weights.
            paths = {label: [int(w.argmax())] for label, w in ops.items()}
            torch.testing.assert_close(net.forward_paths(x, paths, depth_weights=depths, widths=widths), expected,
                                       atol=1e-6, rtol=0)


def count_calls(net):
    """Forward hooks counting how often each candidate module runs (on full-width paths)."""
    calls = {}
    for label, layer in net.choice_layers.items():
        for i, op in enumerate(layer.ops):
            op.register_forward_hook(lambda *_, key=(label, i): calls.__setitem__(key, calls.get(key, 0) + 1))
    return calls


@pytest.mark.parametrize("k", [1, 2, 3])
def test_sampled_runs_k_paths_per_slot(k):
    space = TINY_SPACES["shuffle"]()  # no widths passed: every candidate runs at full width, through its module
    net = Supernet(space)
    calls = count_calls(net)
    ops, _ = arch_logits(space)
    probs = {label: torch.softmax(w, 0) for label, w in ops.items()}
    net.forward_sampled(torch.randn(2, 1, 32, 32), probs, k, generator=torch.Generator().manual_seed(1))
    for slot in space.slots():
        assert sum(calls.get((slot.label, i), 0) for i in range(len(slot.candidates))) == k
    calls.clear()
    net.forward_mixture(torch.randn(2, 1, 32, 32), probs)
    assert len(calls) == sum(len(s.candidates) for s in space.slots())


def test_sample_candidates_is_seeded_and_respects_zero_probability():
    p = torch.tensor([0.1, 0.0, 0.6, 0.3])
    draws = [sample_candidates(p, 2, torch.Generator().manual_seed(5)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2] and len(draws[0]) == 2 and 1 not in draws[0]
    assert sample_candidates(p, 9, torch.Generator()) == [0, 2, 3]
    with pytest.raises(ValueError, match="k"):
        sample_candidates(p, 0, torch.Generator())


@pytest.mark.parametrize("name", sorted(TINY_SPACES))
def test_single_path_gradients_reach_exactly_the_active_path(name):
    space = TINY_SPACES[name]()
    net = Supernet(space).train()
    rng = random.Random(2)
    for _ in range(3):
        net.zero_grad(set_to_none=True)
        choice = net.sample_active(rng)
        net(torch.randn(4, space.geometry.in_channels, 32, 32)).logsumexp(1).sum().backward()
        active = {id(p) for m in [net.stem, *net.path_blocks(choice), net.head] for p in m.parameters()}
        for pname, p in net.named_parameters():
            if id(p) in active:
                assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
            else:
                assert p.grad is None, pname


@pytest.mark.parametrize("mode", ["mixture", "sampled2", "sampled1"])
@pytest.mark.parametrize("name", ["ir_in", "shuffle"])
def test_mixture_gradients_reach_arch_weights(name, mode):
    space = TINY_SPACES[name]()
    net = Supernet(space).train()
    ops, depths = arch_logits(space)
    probs = {label: torch.softmax(w, 0) for label, w in ops.items()}
    depth_probs = {label: torch.softmax(w, 0) for label, w in depths.items()}
    widths = {s.width_label: s.widths[len(s.widths) // 2] for s in space.slots() if s.widths is not None}
    x = torch.randn(4, space.geometry.in_channels, 32, 32)
    if mode == "mixture":
        out = net.forward_mixture(x, probs, depth_probs, widths)
    else:
        out = net.forward_sampled(x, probs, int(mode[-1]), generator=torch.Generator().manual_seed(0),
                                  depth_weights=depth_probs, widths=widths)
    torch.nn.functional.cross_entropy(out, torch.arange(4) % space.geometry.num_classes).backward()
    for label, logits in [*ops.items(), *depths.items()]:
        assert logits.grad is not None and logits.grad.abs().sum() > 0, label
    assert net.stem.conv.weight.grad is not None


def test_sample_paths_is_reproducible_and_forward_paths_checks_them():
    space = TINY_SPACES["shuffle"]()
    net = Supernet(space)
    ops, _ = arch_logits(space)
    probs = {label: torch.softmax(w, 0) for label, w in ops.items()}
    first = net.sample_paths(probs, 2, torch.Generator().manual_seed(3))
    assert first == net.sample_paths(probs, 2, torch.Generator().manual_seed(3))
    assert set(first) == {s.op_label for s in space.slots()} and all(len(v) == 2 for v in first.values())
    x = torch.randn(1, 1, 32, 32)
    with pytest.raises(ValueError, match="one candidate"):
        net.forward_paths(x, first)
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        net.forward_paths(x, {**first, "s0_b0_op": [4]}, probs)
    with pytest.raises(ValueError, match="distinct"):
        net.forward_paths(x, {**first, "s0_b0_op": [1, 1]}, probs)


def test_user_errors_name_the_problem():
    space = TINY_SPACES["ir_in"]()
    net = Supernet(space)
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="set_active"):
        net(x)
    ops, depths = arch_logits(space)
    with pytest.raises(ValueError, match="s0_b0_op"):
        net.forward_mixture(x, {k: v for k, v in ops.items() if k != "s0_b0_op"})
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        net.forward_mixture(x, {**ops, "s0_b0_op": torch.ones(3)})
    with pytest.raises(ValueError, match="s2_depth"):
        net.forward_mixture(x, ops, {"s0_depth": depths["s0_depth"]})
    with pytest.raises(ValueError, match="s0_b0_width=7"):
        net.forward_mixture(x, ops, widths={"s0_b0_width": 7})
    with pytest.raises(ValueError, match="s0_b0_op"):
        net.set_active({**space.heaviest(), "s0_b0_op": "nope"})

"""recalibrate_bn: the active path's BN statistics become the (cumulative) batch statistics."""

import random

import pytest
import torch
from torch import nn

from hwnas.supernet import Supernet, recalibrate_bn
from .tiny_spaces import TINY_SPACES, narrowed, perturb


def bn_stats_of(child, batches):
    """Reference: the child's own BNs, reset, cumulative average (momentum=None) over ``batches``."""
    for m in child.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    child.train()
    with torch.no_grad():
        for x in batches:
            child(x)
    return {k: v for k, v in child.state_dict().items() if "running" in k}


@pytest.mark.parametrize("name", sorted(TINY_SPACES))
def test_recalibrated_stats_equal_the_childs_batch_statistics(name):
    space = TINY_SPACES[name]()
    net = perturb(Supernet(space)).eval()
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, space.geometry.in_channels, 32, 32, generator=gen) * 2 + 1 for _ in range(3)]
    rng = random.Random(4)
    for _ in range(4):
        choice = space.sample(rng)
        expected = bn_stats_of(net.extract(choice), batches)
        assert recalibrate_bn(net, choice, [(x, None) for x in batches]) == 3
        assert not net.training and net.active == choice
        got = net.extract(choice).state_dict()
        for key, value in expected.items():
            torch.testing.assert_close(got[key], value, atol=1e-5, rtol=1e-5, msg=key)
        assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_one_batch_gives_exactly_its_statistics():
    space = TINY_SPACES["ir_in"]()
    net = perturb(Supernet(space))
    x = torch.randn(16, 3, 32, 32) * 3 + 2
    recalibrate_bn(net, space.heaviest(), [x])
    y = net.stem.conv(x)
    torch.testing.assert_close(net.stem.bn.running_mean, y.mean((0, 2, 3)), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net.stem.bn.running_var, y.var((0, 2, 3), unbiased=True), atol=1e-4, rtol=1e-4)
    assert int(net.stem.bn.num_batches_tracked) == 1


def test_narrow_path_is_recalibrated_and_empty_input_is_refused():
    space = TINY_SPACES["shuffle"]()
    net = Supernet(space)
    choice = {**space.heaviest(), **{s.width_label: s.widths[0] for s in space.slots()}}
    net.set_active(choice)
    assert narrowed(net) == len(space.slots())
    with pytest.raises(ValueError, match="at least one batch"):
        recalibrate_bn(net, choice, [])
    assert all(m.momentum == 0.1 for m in net.modules() if isinstance(m, nn.BatchNorm2d))

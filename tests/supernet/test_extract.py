"""extract(choice) reproduces the single path: same state-dict keys, same outputs (eval and train), same BN updates."""

import random

import pytest
import torch

from hwnas.nn import build_model
from hwnas.space.registry import get_space
from hwnas.supernet import Supernet, copy_leading
from .tiny_spaces import TINY_SPACES, narrowed, perturb

REAL_SPACES = ("fbnet", "hardcore", "tfnas", "spos")


def real_space(name: str):
    # Small widths keep 50 extractions per space fast; 32 px is a Fashion-MNIST/CIFAR-scale input.
    return get_space(name, input_size=32, in_channels=1, num_classes=10, width_mult=0.25)


def check_parity(space, choices: int, seed: int = 0) -> int:
    """Compare supernet single path and extracted child in eval mode on ``choices`` samples; return #narrowed."""
    net = perturb(Supernet(space), seed).eval()
    rng = random.Random(seed)
    x = torch.randn(2, space.geometry.in_channels, space.geometry.input_size, space.geometry.input_size,
                    generator=torch.Generator().manual_seed(seed))
    sliced = 0
    for _ in range(choices):
        choice = space.sample(rng)
        net.set_active(choice)
        sliced += narrowed(net)
        child = net.extract(choice)
        assert not child.training and child.spec == space.to_spec(choice)
        with torch.no_grad():
            torch.testing.assert_close(net(x), child(x), atol=1e-5, rtol=0)
    return sliced


@pytest.mark.parametrize("name", sorted(TINY_SPACES))
def test_extract_matches_single_path_tiny(name):
    assert check_parity(TINY_SPACES[name](), choices=60) > 0  # elastic slicing was exercised


@pytest.mark.parametrize("name", REAL_SPACES)
def test_extract_matches_single_path_real(name):
    check_parity(real_space(name), choices=50)


@pytest.mark.parametrize("name", sorted(TINY_SPACES))
def test_train_mode_outputs_and_bn_updates_match_child(name):
    space = TINY_SPACES[name]()
    net = perturb(Supernet(space)).train()
    rng = random.Random(1)
    x = torch.randn(4, space.geometry.in_channels, 32, 32)
    for _ in range(8):
        choice = space.sample(rng)
        net.set_active(choice)
        child = net.extract(choice)
        assert child.training
        torch.manual_seed(0)  # the same dropout mask in the head
        out_net = net(x)
        torch.manual_seed(0)
        out_child = child(x)
        torch.testing.assert_close(out_net, out_child, atol=1e-5, rtol=0)
        # The sliced F.batch_norm must have updated the shared leading channels exactly as the child's BNs did.
        after = net.extract(choice).state_dict()
        for key, value in child.state_dict().items():
            torch.testing.assert_close(after[key], value, atol=1e-6, rtol=0, msg=key)


def test_candidate_keys_equal_child_block_keys():
    space = TINY_SPACES["ir_in"]()
    net = Supernet(space)
    choice = space.sample(random.Random(3))
    child = build_model(space.to_spec(choice), space.geometry.num_classes, space.geometry.in_channels)
    blocks = net.path_blocks(choice)
    assert len(blocks) == len(child.blocks)
    for block, child_block in zip(blocks, child.blocks):
        assert type(block) is type(child_block)
        assert block.state_dict().keys() == child_block.state_dict().keys()


def test_copy_leading_refuses_a_wider_target():
    with pytest.raises(ValueError, match="slice"):
        copy_leading(torch.nn.Linear(4, 2), torch.nn.Linear(4, 3))


@pytest.mark.parametrize("name", sorted(TINY_SPACES))
def test_param_counts(name):
    space = TINY_SPACES[name]()
    net = Supernet(space)
    heaviest = net.heaviest()
    assert heaviest == space.heaviest()
    child = net.extract(heaviest)
    child_params = sum(p.numel() for p in child.parameters())
    assert net.param_count(heaviest) == child_params
    assert net.param_count() >= child_params
    choice = space.sample(random.Random(0))
    assert net.param_count(choice) == sum(p.numel() for p in net.extract(choice).parameters())

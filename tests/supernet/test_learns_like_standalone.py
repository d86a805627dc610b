"""A path trained alone inside the supernet learns exactly like the same network trained stand-alone (issue 18,
item 4): same forward, same optimiser, same losses step by step, same weights after. So when uniform single-path
training is flat, the cause is what sharing does (each candidate's update rate, the features its neighbours feed
it), not a defect of the supernet's forward, its slicing or its optimiser."""

import random

import pytest
import torch
import torch.nn.functional as F

from hwnas.search.parts.engine import WeightTrainer
from hwnas.space.registry import get_space
from hwnas.supernet import Supernet
from .tiny_spaces import TINY_SPACES, narrowed


def _space(name):
    if name in TINY_SPACES:
        return TINY_SPACES[name]()
    return get_space(name, input_size=28, in_channels=1, num_classes=10, width_mult=0.25)


@pytest.mark.parametrize("sharing", ("independent", "entangled"))
@pytest.mark.parametrize("name", ("ir_in", "fbnet"))
def test_a_path_trained_in_the_supernet_matches_the_standalone_network(name, sharing):
    space = _space(name)
    torch.manual_seed(0)
    supernet = Supernet(space, sharing=sharing).train()
    choice = space.sample(random.Random(4))
    supernet.set_active(choice)
    assert sharing == "independent" or name != "fbnet" or narrowed(supernet) > 0  # kernels/widths are sliced
    child = supernet.extract(choice).train()
    size = space.geometry.input_size
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(16, space.geometry.in_channels, size, size, generator=gen),
                torch.randint(0, space.geometry.num_classes, (16,), generator=gen)) for _ in range(6)]
    inside, alone = WeightTrainer(supernet, 6, lr=0.1), WeightTrainer(child, 6, lr=0.1)
    for x, y in batches:
        a = inside.update(lambda: F.cross_entropy(supernet(x), y))
        b = alone.update(lambda: F.cross_entropy(child(x), y))
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5)
    trained = supernet.extract(choice).state_dict()
    for key, value in child.state_dict().items():
        torch.testing.assert_close(trained[key], value, atol=1e-4, rtol=1e-4, msg=key)

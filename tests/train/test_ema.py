import pytest
import torch
from torch import nn

from hwnas.train import ModelEma


class Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.register_buffer("running", torch.zeros(1))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))


def test_ema_math_on_a_toy_parameter() -> None:
    model = Toy()
    ema = ModelEma(model, decay=0.9)
    with torch.no_grad():
        model.w.fill_(1.0)
        model.running.fill_(10.0)
        model.count.fill_(5)
    ema.update(model)
    assert ema.module.w.item() == pytest.approx(0.1)  # 0.9 * 0 + 0.1 * 1
    assert ema.module.running.item() == pytest.approx(1.0)  # float buffers are averaged too
    assert ema.module.count.item() == 5  # integer buffers are copied
    ema.update(model)
    assert ema.module.w.item() == pytest.approx(0.19)  # 0.9 * 0.1 + 0.1 * 1
    for _ in range(200):
        ema.update(model)
    assert ema.module.w.item() == pytest.approx(1.0, abs=1e-6)
    assert ema.num_updates == 202
    assert model.w.item() == 1.0  # the live model is never modified


def test_ema_copy_is_independent_and_frozen() -> None:
    model = Toy()
    ema = ModelEma(model, decay=0.5)
    assert not ema.module.w.requires_grad and not ema.module.training
    with torch.no_grad():
        model.w.fill_(3.0)
    assert ema.module.w.item() == 0.0


def test_state_dict_round_trip() -> None:
    model = Toy()
    ema = ModelEma(model, decay=0.9)
    with torch.no_grad():
        model.w.fill_(2.0)
    ema.update(model)
    other = ModelEma(Toy(), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.decay == 0.9 and other.num_updates == 1
    assert torch.equal(other.module.w, ema.module.w)


def test_bad_decay() -> None:
    with pytest.raises(ValueError, match="decay"):
        ModelEma(Toy(), decay=1.0)

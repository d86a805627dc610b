import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hwnas.train import kd_loss, teacher_logits


def _logits(seed: int) -> torch.Tensor:
    return torch.randn(6, 5, generator=torch.Generator().manual_seed(seed))


def test_alpha_zero_is_plain_cross_entropy() -> None:
    s, t, y = _logits(0), _logits(1), torch.tensor([0, 1, 2, 3, 4, 0])
    assert torch.equal(kd_loss(s, t, y, alpha=0.0, temperature=4.0), F.cross_entropy(s, y))
    smoothed = kd_loss(s, t, y, alpha=0.0, temperature=4.0, label_smoothing=0.1)
    assert torch.equal(smoothed, F.cross_entropy(s, y, label_smoothing=0.1))


def test_alpha_one_is_scaled_kl_and_zero_for_identical_logits() -> None:
    s, t, y = _logits(0), _logits(1), torch.zeros(6, dtype=torch.long)
    temp = 3.0
    expected = F.kl_div(F.log_softmax(s / temp, -1), F.softmax(t / temp, -1), reduction="batchmean") * temp**2
    assert kd_loss(s, t, y, alpha=1.0, temperature=temp).item() == pytest.approx(expected.item(), rel=1e-5)
    assert kd_loss(s, s.clone(), y, alpha=1.0, temperature=temp).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_flows_only_to_the_student() -> None:
    student, teacher = nn.Linear(4, 3), nn.Linear(4, 3)
    teacher.train()
    x, y = torch.randn(8, 4), torch.randint(3, (8,))
    soft = teacher_logits(teacher, x)
    assert not teacher.training  # switched to eval mode
    assert not soft.requires_grad
    kd_loss(student(x), soft, y, alpha=0.7, temperature=2.0).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())


def test_even_an_attached_teacher_tensor_gets_no_gradient() -> None:
    s = torch.randn(4, 3, requires_grad=True)
    t = torch.randn(4, 3, requires_grad=True)
    kd_loss(s, t, torch.zeros(4, dtype=torch.long), alpha=0.5, temperature=2.0).backward()
    assert s.grad is not None and t.grad is None


@pytest.mark.parametrize("kwargs, match", [(dict(alpha=2.0), "alpha"), (dict(temperature=0.0), "temperature")])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    args = dict(alpha=0.5, temperature=1.0) | kwargs
    with pytest.raises(ValueError, match=match):
        kd_loss(_logits(0), _logits(1), torch.zeros(6, dtype=torch.long), **args)

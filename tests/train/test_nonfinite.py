"""The non-finite policy: skipped steps leave the model untouched; runs of them, or "stop", raise."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from _train_testlib import SyntheticSource, make_tiny_net
from hwnas.train import NonFiniteLossError, TrainConfig, train


class _NanGrad(torch.autograd.Function):
    """Identity forward; NaN gradient backward."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("nan")


class Faulty(nn.Module):
    """Wraps a net. On chosen training forward calls the output (or its gradient) becomes NaN.

    Records the full model state before every training forward, so the test can
    see exactly what each step changed.
    """

    def __init__(self, net: nn.Module, nan_loss_at: set[int] = frozenset(), nan_grad_at: set[int] = frozenset()):
        super().__init__()
        self.net, self.nan_loss_at, self.nan_grad_at = net, set(nan_loss_at), set(nan_grad_at)
        self.calls = 0
        self.snapshots: list[dict[str, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.net(x)
        self.snapshots.append({k: v.clone() for k, v in self.net.state_dict().items()})
        call, self.calls = self.calls, self.calls + 1
        out = self.net(x)
        if call in self.nan_loss_at:
            out = out * float("nan")
        if call in self.nan_grad_at:
            out = _NanGrad.apply(out)
        return out


def _cfg(**kw: object) -> TrainConfig:
    base = dict(epochs=1, lr=0.05, label_smoothing=0.1, checkpoint_every_steps=0, log_every_steps=1,
                progress=False, tensorboard=False)
    return TrainConfig(**{**base, **kw})


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_skip_leaves_model_unchanged_on_bad_steps(tmp_path: Path) -> None:
    bad = {2, 5, 6}
    model = Faulty(make_tiny_net(seed=0), nan_loss_at=bad)
    src = SyntheticSource(10, seed=1)
    metrics = train(model, src, SyntheticSource(2, seed=2), _cfg(max_nonfinite=3), tmp_path, device="cpu")
    assert metrics["nonfinite_skipped"] == 3 and metrics["steps"] == 10
    snaps = model.snapshots
    for step in range(9):
        unchanged = _same(snaps[step], snaps[step + 1])
        assert unchanged == (step in bad), f"step {step}"  # BN buffers included
    assert all(torch.isfinite(p).all() for p in model.parameters())
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert '"loss": null' in lines[2]  # the NaN step is logged, as null (valid JSON)


def test_consecutive_nonfinite_steps_raise(tmp_path: Path) -> None:
    model = Faulty(make_tiny_net(seed=0), nan_loss_at={3, 4, 5})
    with pytest.raises(NonFiniteLossError, match="3 consecutive.*max_nonfinite=3"):
        train(model, SyntheticSource(10), SyntheticSource(2), _cfg(max_nonfinite=3), tmp_path, device="cpu")
    assert model.calls == 6  # raised on the third bad step, not later


def test_non_consecutive_bad_steps_do_not_accumulate(tmp_path: Path) -> None:
    model = Faulty(make_tiny_net(seed=0), nan_loss_at={1, 3, 5, 7})
    metrics = train(model, SyntheticSource(10), SyntheticSource(2), _cfg(max_nonfinite=2), tmp_path, device="cpu")
    assert metrics["nonfinite_skipped"] == 4


def test_stop_policy_raises_at_the_first_nan(tmp_path: Path) -> None:
    model = Faulty(make_tiny_net(seed=0), nan_loss_at={4})
    with pytest.raises(NonFiniteLossError, match="step 4 .*nonfinite_policy='stop'"):
        train(model, SyntheticSource(10), SyntheticSource(2), _cfg(nonfinite_policy="stop"), tmp_path,
              device="cpu")  # fmt: skip
    assert _same(model.snapshots[4], model.net.state_dict())  # the bad step was not applied


def test_nonfinite_gradient_norm_is_caught_with_grad_clip(tmp_path: Path) -> None:
    model = Faulty(make_tiny_net(seed=0), nan_grad_at={2})
    metrics = train(model, SyntheticSource(6), SyntheticSource(2), _cfg(grad_clip=1.0), tmp_path, device="cpu")
    assert metrics["nonfinite_skipped"] == 1
    assert _same(model.snapshots[2], model.snapshots[3])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    model = Faulty(make_tiny_net(seed=0), nan_grad_at={2})
    with pytest.raises(NonFiniteLossError, match="gradient norm"):
        train(model, SyntheticSource(6), SyntheticSource(2), _cfg(grad_clip=1.0, nonfinite_policy="stop"),
              tmp_path / "stop", device="cpu")  # fmt: skip
    assert math.isfinite(metrics["top1"])

"""End-to-end behaviour of train(): learning, outputs, resume rules, RNG hygiene, CPU fallbacks."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from _train_testlib import SyntheticSource, make_linear_net, make_tiny_net
from hwnas.train import TrainConfig, load_checkpoint, train

FAST = dict(progress=False, tensorboard=False, log_every_steps=5, checkpoint_every_steps=0)


def _cfg(**kw: object) -> TrainConfig:
    return TrainConfig(**{**FAST, **kw})


def test_tiny_conv_net_learns_a_separable_problem(tmp_path: Path) -> None:
    train_src = SyntheticSource(20, batch_size=32, seed=1, separation=2.0, noise=0.5)
    val_src = SyntheticSource(4, batch_size=32, seed=2, template_seed=1, separation=2.0, noise=0.5)
    model = make_tiny_net(seed=0, dropout=0.0)
    cfg = _cfg(epochs=3, optimizer="adamw", lr=0.01, weight_decay=1e-4, warmup_epochs=0.2, ema_decay=0.9)
    metrics = train(model, train_src, val_src, cfg, tmp_path, device="cpu")
    assert metrics["top1"] > 90.0, metrics
    assert metrics["best_val_top1"] >= metrics["val_top1"]


def test_outputs_written(tmp_path: Path) -> None:
    test_src = SyntheticSource(2, seed=9)
    cfg = _cfg(epochs=2, checkpoint_every_steps=3, log_every_steps=2)
    metrics = train(make_linear_net(), SyntheticSource(6), SyntheticSource(2, seed=2), cfg, tmp_path,
                    device="cpu", test_source=test_src)  # fmt: skip
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == pytest.approx(metrics)
    expected = {"top1", "top5", "val_top1", "loss", "epochs", "steps", "wall_time_s", "images_per_s",
                "nonfinite_skipped", "best_val_top1"}  # fmt: skip
    assert expected <= metrics.keys()
    assert metrics["evaluated_on"] == "test" and metrics["steps"] == 12 and metrics["epochs"] == 2
    assert metrics["images_per_s"] > 0 and metrics["nonfinite_skipped"] == 0
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [2, 4, 6, 8, 10, 12]
    assert [r["step"] for r in rows if r["kind"] == "val"] == [6, 12]
    last, best = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(tmp_path / "best.pt")
    assert (last["step"], last["epoch"], last["batch_in_epoch"]) == (12, 2, 0)
    assert best["best_val_top1"] == metrics["best_val_top1"]
    assert last["config"] == cfg.to_dict()


class _Interrupt(Exception):
    pass


class _CrashingSource(SyntheticSource):
    """Raises before yielding global batch ``crash_at``, like a process dying mid-epoch."""

    def __init__(self, *args: object, crash_at: int, **kw: object) -> None:
        super().__init__(*args, **kw)
        self.crash_at = crash_at

    def epoch_batches(self, epoch: int, start: int = 0):
        for i in range(start, self.n_batches):
            if epoch * self.n_batches + i == self.crash_at:
                raise _Interrupt
            yield self.batch(epoch, i)


def test_in_process_resume_is_bit_exact_with_adamw(tmp_path: Path) -> None:
    cfg = _cfg(epochs=2, optimizer="adamw", lr=3e-3, ema_decay=0.8, checkpoint_every_steps=3, warmup_epochs=1.0)
    val = SyntheticSource(2, seed=2)
    ref = make_tiny_net(seed=3)
    train(ref, SyntheticSource(8, seed=1), val, cfg, tmp_path / "ref", device="cpu")
    model = make_tiny_net(seed=3)
    with pytest.raises(_Interrupt):
        train(model, _CrashingSource(8, seed=1, crash_at=11), val, cfg, tmp_path / "run", device="cpu")
    assert load_checkpoint(tmp_path / "run" / "last.pt")["step"] == 9
    model = make_tiny_net(seed=3)  # a fresh process would rebuild the model from scratch
    metrics = train(model, SyntheticSource(8, seed=1), val, cfg, tmp_path / "run", device="cpu", resume=True)
    assert metrics["steps"] == 16
    for (name, a), b in zip(ref.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_resume_refuses_a_different_config(tmp_path: Path) -> None:
    train(make_linear_net(), SyntheticSource(4), SyntheticSource(1), _cfg(epochs=1), tmp_path, device="cpu")
    with pytest.raises(ValueError, match=r"config differs \(lr: checkpoint=0.1 now=0.2"):
        train(make_linear_net(), SyntheticSource(4), SyntheticSource(1), _cfg(epochs=1, lr=0.2), tmp_path,
              device="cpu", resume=True)  # fmt: skip
    with pytest.raises(ValueError, match="batches per epoch"):
        train(make_linear_net(), SyntheticSource(5), SyntheticSource(1), _cfg(epochs=1), tmp_path,
              device="cpu", resume=True)  # fmt: skip
    # Logging/progress knobs may change on resume; a finished run just re-reports its metrics.
    again = train(make_linear_net(), SyntheticSource(4), SyntheticSource(1), _cfg(epochs=1, log_every_steps=1),
                  tmp_path, device="cpu", resume=True)  # fmt: skip
    assert again["steps"] == 4


def test_resume_without_checkpoint_starts_fresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hwnas.train.loop"):
        metrics = train(make_linear_net(), SyntheticSource(3), SyntheticSource(1), _cfg(epochs=1), tmp_path,
                        device="cpu", resume=True)  # fmt: skip
    assert metrics["steps"] == 3
    assert any("training from scratch" in r.message for r in caplog.records)


def test_caller_rng_is_untouched_and_seed_controls_dropout(tmp_path: Path) -> None:
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    runs = []
    for i, seed in enumerate([5, 5, 6]):
        model = make_tiny_net(seed=0, dropout=0.5)
        train(model, SyntheticSource(4), SyntheticSource(1), _cfg(epochs=1, seed=seed), tmp_path / str(i),
              device="cpu")  # fmt: skip
        runs.append(model.state_dict())
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])  # different dropout masks


def test_amp_is_ignored_on_cpu_with_one_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # channels_last is not CUDA-only (it applies on the CPU too: tests/train/test_layout.py), so no note for it.
    cfg = _cfg(epochs=1, amp=True, amp_dtype="fp16", channels_last=True, grad_clip=1.0)
    with caplog.at_level(logging.INFO, logger="hwnas.train.loop"):
        metrics = train(make_tiny_net(), SyntheticSource(3), SyntheticSource(1), cfg, tmp_path, device="cpu")
    assert sum("CUDA-only" in r.message for r in caplog.records) == 1
    assert metrics["steps"] == 3


def test_distillation_trains_student_and_leaves_teacher_alone(tmp_path: Path) -> None:
    teacher, student = make_tiny_net(seed=1), make_tiny_net(seed=2)
    teacher.train()
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    cfg = _cfg(epochs=1, kd_alpha=0.7, kd_temperature=2.0, progress=True)  # also exercises the tqdm bar
    metrics = train(student, SyntheticSource(4), SyntheticSource(1), cfg, tmp_path, device="cpu", teacher=teacher)
    assert metrics["steps"] == 4
    assert not teacher.training
    assert all(torch.equal(teacher_before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is None for p in teacher.parameters())


def test_bad_arguments(tmp_path: Path) -> None:
    src = SyntheticSource(2)
    with pytest.raises(TypeError, match="model"):
        train("not a model", src, src, _cfg(), tmp_path, device="cpu")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cfg"):
        train(make_linear_net(), src, src, {"epochs": 1}, tmp_path, device="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="val_source"):
        train(make_linear_net(), src, [1, 2], _cfg(), tmp_path, device="cpu")
    with pytest.raises(ValueError, match="len"):
        train(make_linear_net(), SyntheticSource(0), src, _cfg(), tmp_path, device="cpu")


def test_best_checkpoint_holds_the_evaluated_weights(tmp_path: Path) -> None:
    """Integrators load ``ckpt["ema"] or ckpt["model"]`` into a fresh model; that must reproduce best_val_top1."""
    from hwnas.train import evaluate

    val = SyntheticSource(3, seed=2)
    cfg = _cfg(epochs=3, ema_decay=0.5, lr=0.05)
    metrics = train(make_tiny_net(seed=0), SyntheticSource(6, seed=1), val, cfg, tmp_path, device="cpu")
    best = load_checkpoint(tmp_path / "best.pt")
    fresh = make_tiny_net(seed=99)
    fresh.load_state_dict(best["ema"] or best["model"])
    assert evaluate(fresh, val, "cpu")["top1"] == metrics["best_val_top1"]

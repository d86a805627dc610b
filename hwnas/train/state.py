"""The mutable state of a training run, and its (de)serialisation to a checkpoint dict.

Kept apart from ``loop.py`` so the loop reads as a loop. Everything that
influences the next optimizer step lives in ``RunState`` and is saved, which
is what makes resume bit-exact on CPU: model, optimizer (momentum buffers),
GradScaler, EMA, the step/epoch/batch position, the torch RNG (dropout) and
the running counters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwnas.train.checkpoint import capture_rng_state, restore_rng_state
from hwnas.train.config import TrainConfig
from hwnas.train.ema import ModelEma

CHECKPOINT_FORMAT = 1  # bump when the layout below changes incompatibly

# Config fields a resumed run may change: they affect logging, I/O and failure handling, not the weights, or (the
# memory format) only their float rounding, so that a run started before channels_last became the CPU default
# continues under it.
RESUME_MUTABLE_FIELDS = frozenset(
    {"progress", "log_every_steps", "checkpoint_every_steps", "tensorboard", "nonfinite_policy", "max_nonfinite",
     "channels_last"}
)

# Plain counters copied verbatim between RunState and the checkpoint.
_COUNTERS = (
    "step",
    "epoch",
    "batch_in_epoch",
    "best_val_top1",
    "last_val",
    "nonfinite_consecutive",
    "nonfinite_total",
    "epoch_loss_sum",
    "epoch_loss_count",
    "images_seen",
    "train_time_s",
)
_STATE_KEYS = frozenset(
    {"format", "model", "optimizer", "scaler", "ema", "config", "steps_per_epoch", "has_teacher", "rng"}
    | {"ema_updates", "log_lines", "wall_time_s"}
    | set(_COUNTERS)
)


@dataclass
class RunState:
    """Everything ``train`` mutates while it runs."""

    cfg: TrainConfig
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    ema: ModelEma | None
    teacher: nn.Module | None
    amp_dtype: torch.dtype | None  # None = no autocast (always None off CUDA)
    channels_last: bool  # effective flag: cfg.channels_last resolved for the device (hwnas.train.layout)
    steps_per_epoch: int
    warmup_steps: int
    total_steps: int
    step: int = 0  # batches consumed so far, skipped non-finite ones included; indexes the LR schedule
    epoch: int = 0  # epoch in progress (== cfg.epochs once training is done)
    batch_in_epoch: int = 0  # index of the next batch of `epoch` to train on
    best_val_top1: float | None = None
    last_val: dict[str, float] | None = None  # last epoch's evaluation, so a finished run can be re-summarised
    nonfinite_consecutive: int = 0
    nonfinite_total: int = 0
    epoch_loss_sum: float = 0.0  # running train loss of the current epoch (saved so resumed logs match)
    epoch_loss_count: int = 0
    images_seen: int = 0
    train_time_s: float = 0.0  # seconds spent in training steps (data included, eval/checkpoints excluded)
    prior_wall_time_s: float = 0.0  # wall time of the processes this run was resumed from
    started_at: float = field(default_factory=time.perf_counter)
    parallel: nn.Module | None = None  # the DistributedDataParallel wrapper of `model` under torchrun

    @property
    def net(self) -> nn.Module:
        """What training steps call: the DDP wrapper (which all-reduces gradients in backward), else the model."""
        return self.parallel if self.parallel is not None else self.model

    @property
    def eval_model(self) -> nn.Module:
        """The weights we report: the EMA copy when EMA is on."""
        return self.ema.module if self.ema is not None else self.model

    def wall_time_s(self) -> float:
        """Wall time of this run so far, across resumes (work lost to a crash is not counted)."""
        return self.prior_wall_time_s + time.perf_counter() - self.started_at


def capture_state(run: RunState, log_lines: int) -> dict[str, Any]:
    """A checkpoint dict (tensors and builtins only, so it loads with ``weights_only=True``)."""
    state = {name: getattr(run, name) for name in _COUNTERS}
    state.update(
        format=CHECKPOINT_FORMAT,
        model=run.model.state_dict(),
        optimizer=run.optimizer.state_dict(),
        scaler=run.scaler.state_dict(),
        # "ema" is a plain model state dict (loadable straight into the architecture, which is what
        # pipeline.load_trained does); the EMA bookkeeping rides alongside.
        ema=run.ema.module.state_dict() if run.ema is not None else None,
        ema_updates=run.ema.num_updates if run.ema is not None else 0,
        config=run.cfg.to_dict(),
        steps_per_epoch=run.steps_per_epoch,
        has_teacher=run.teacher is not None,
        rng=capture_rng_state(run.device),
        log_lines=log_lines,  # metrics.jsonl lines that belong to this state (resume truncates to it)
        wall_time_s=run.wall_time_s(),
    )
    return state


def restore_state(run: RunState, state: dict[str, Any], path: Path) -> int:
    """Load ``state`` (read from ``path``) into ``run``; returns the metrics.jsonl line count to keep."""
    check_compatible(run, state, path)
    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        if run.ema is not None:
            ema = {"decay": run.ema.decay, "num_updates": state["ema_updates"], "module": state["ema"]}
            run.ema.load_state_dict(ema)
    except (RuntimeError, ValueError, KeyError) as e:
        raise ValueError(f"checkpoint {path} does not fit this model/optimizer: {e}") from e
    if run.scaler.is_enabled() and state["scaler"]:
        run.scaler.load_state_dict(state["scaler"])
    for name in _COUNTERS:
        setattr(run, name, state[name])
    run.prior_wall_time_s = float(state["wall_time_s"])
    restore_rng_state(state["rng"], run.device)
    return int(state["log_lines"])


def check_compatible(run: RunState, state: dict[str, Any], path: Path) -> None:
    """Refuse to resume a checkpoint from a different experiment (ValueError naming what differs)."""
    missing = sorted(_STATE_KEYS - set(state))
    if missing:
        raise ValueError(f"checkpoint {path} is not a training checkpoint: missing keys {missing}")
    if state["format"] != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} has format {state['format']}, this code reads {CHECKPOINT_FORMAT}")
    old, new = state["config"], run.cfg.to_dict()
    diffs = {
        k: (old.get(k), new.get(k))
        for k in sorted(set(old) | set(new))
        if k not in RESUME_MUTABLE_FIELDS and old.get(k) != new.get(k)
    }
    if diffs:
        detail = ", ".join(f"{k}: checkpoint={a!r} now={b!r}" for k, (a, b) in diffs.items())
        raise ValueError(f"cannot resume from {path}: config differs ({detail}); use a new out_dir or resume=False")
    if state["steps_per_epoch"] != run.steps_per_epoch:
        raise ValueError(
            f"cannot resume from {path}: it was trained with {state['steps_per_epoch']} batches per epoch, "
            f"train_source now has {run.steps_per_epoch}"
        )
    if state["has_teacher"] != (run.teacher is not None):
        raise ValueError(
            f"cannot resume from {path}: it was trained {'with' if state['has_teacher'] else 'without'} a teacher"
        )

"""Per-step learning rate: linear warm-up, then cosine decay to ``min_lr``.

Cosine annealing is SGDR (Loshchilov & Hutter 2017) with a single cycle and
no restarts; the warm-up avoids early instability at large batch sizes
(Goyal et al. 2017). The schedule is a pure function of the step index, so a
resumed run gets exactly the LR an uninterrupted one would, with no scheduler
state to save.
"""

from __future__ import annotations

import math

from hwnas.train.config import TrainConfig


def lr_at_step(step: int, *, base_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> float:
    """LR to use for optimizer step ``step`` (0-based) out of ``total_steps``.

    Warm-up: step ``s < warmup_steps`` gets ``base_lr * (s + 1) / warmup_steps``
    (the first step already moves; the last warm-up step reaches ``base_lr``).
    Then cosine from ``base_lr`` at ``step == warmup_steps`` to ``min_lr`` at
    ``step == total_steps``; steps past the end stay at ``min_lr``.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in [0, total_steps={total_steps}], got {warmup_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = total_steps - warmup_steps
    if decay_steps == 0:  # all warm-up: hold the peak
        return base_lr
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def schedule_steps(cfg: TrainConfig, steps_per_epoch: int) -> tuple[int, int]:
    """``(warmup_steps, total_steps)`` for a config and a data source length."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    total = cfg.epochs * steps_per_epoch
    return min(round(cfg.warmup_epochs * steps_per_epoch), total), total

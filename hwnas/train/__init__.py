"""Training subsystem: one readable loop with checkpoint/resume, EMA, KD, AMP and metrics.

Typical use::

    from hwnas.train import TrainConfig, train
    metrics = train(model, train_src, val_src, TrainConfig(epochs=5), "runs/x", device="cpu", resume=True)
"""

from hwnas.train.checkpoint import (
    BEST_NAME,
    LAST_NAME,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from hwnas.train.config import TrainConfig
from hwnas.train.distill import kd_loss, teacher_logits
from hwnas.train.ema import ModelEma
from hwnas.train.evaluate import evaluate
from hwnas.train.loop import METRICS_NAME, NonFiniteLossError, train
from hwnas.train.metrics import MetricsLogger, topk_accuracy, topk_correct
from hwnas.train.optim import build_optimizer, param_groups
from hwnas.train.schedule import lr_at_step, schedule_steps

__all__ = [
    "BEST_NAME",
    "LAST_NAME",
    "METRICS_NAME",
    "MetricsLogger",
    "ModelEma",
    "NonFiniteLossError",
    "TrainConfig",
    "build_optimizer",
    "evaluate",
    "kd_loss",
    "latest_checkpoint",
    "load_checkpoint",
    "lr_at_step",
    "param_groups",
    "save_checkpoint",
    "schedule_steps",
    "teacher_logits",
    "topk_accuracy",
    "topk_correct",
    "train",
]

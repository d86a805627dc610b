"""Knowledge distillation loss (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float,
    temperature: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``(1 - alpha) * CE(student, targets) + alpha * T^2 * KL(p_teacher^T || p_student^T)``.

    ``p^T`` is the softmax at temperature ``T``. The KL is the standard Hinton
    direction (teacher distribution as the target). The ``T^2`` factor keeps the
    soft-target gradients on the same scale as the hard-label ones as ``T``
    changes (the softened gradients shrink as ``1/T^2``). Teacher logits are
    detached, so no gradient ever reaches the teacher.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} must have the same shape"
        )
    ce = F.cross_entropy(student_logits, targets, label_smoothing=label_smoothing)
    if alpha == 0.0:
        return ce  # exactly CE, and no wasted KL work
    # float32 for the softmaxes: under fp16 autocast, log-probs at high temperature underflow.
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return (1.0 - alpha) * ce + alpha * (temperature**2) * kl


@torch.no_grad()
def teacher_logits(teacher: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Teacher forward pass in eval mode (fixed BN statistics, no dropout) without autograd."""
    if teacher.training:
        teacher.eval()
    return teacher(x)

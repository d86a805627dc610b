"""Optimizer construction with weight decay only where it regularises."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hwnas.train.config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Split trainable parameters into decayed (ndim >= 2) and non-decayed (ndim <= 1) groups.

    1-D parameters are BN/LayerNorm scales and shifts and all biases. Decaying
    BN scales only rescales what BN renormalises anyway (changing the effective
    LR, not regularising), and biases barely contribute to overfitting, so both
    are left out; see TrainConfig.weight_decay.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (Nesterov momentum) or AdamW over ``param_groups``; the LR is set per step by the loop."""
    groups = param_groups(model, cfg.weight_decay)
    if not groups:
        raise ValueError("model has no trainable parameters (all have requires_grad=False)")
    if cfg.optimizer == "sgd":
        nesterov = cfg.nesterov and cfg.momentum > 0
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=nesterov)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.momentum, 0.999))
    raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {cfg.optimizer!r}")

"""Exponential moving average of model weights.

Averaging the weights over the last ~1/(1-decay) steps smooths out SGD noise
and usually evaluates better than the raw weights (Polyak & Juditsky 1992;
used by EfficientNet/MobileNetV3 training recipes).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class ModelEma:
    """Keeps ``module``, a frozen copy of a model whose state tracks an EMA of the live model.

    Floating-point parameters *and* buffers (BN running statistics) are
    averaged: ``ema = decay * ema + (1 - decay) * live``. Integer buffers such
    as ``num_batches_tracked`` are copied, since averaging counters is meaningless.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay!r}")
        self.decay = float(decay)
        self.num_updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
            p.grad = None  # deepcopy copies .grad too; the EMA never needs it

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model``'s current state."""
        live = model.state_dict()
        ema = self.module.state_dict()  # tensors share storage with self.module
        if live.keys() != ema.keys():
            raise ValueError("model passed to ModelEma.update has different state keys than the EMA copy")
        for name, avg in ema.items():
            value = live[name].detach()
            if avg.is_floating_point():
                avg.lerp_(value.to(avg.dtype), 1.0 - self.decay)
            else:
                avg.copy_(value)
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        """Averaged weights plus the decay and update count."""
        return {"decay": self.decay, "num_updates": self.num_updates, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from ``state_dict()`` output."""
        missing = {"decay", "num_updates", "module"} - set(state)
        if missing:
            raise ValueError(f"EMA state is missing keys {sorted(missing)}")
        self.module.load_state_dict(state["module"])
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])

"""The latency terms of the differentiable methods' losses, batched per sample.

:class:`LinearCost` is a sum cost (latency, MACs, params) as a differentiable function of per-slot weights:
``cost(m) = E0 + sum_l P(l active) * sum_i m_{l,i} * d_{l,i}`` with the per-candidate terms ``d`` of
:class:`~hwnas.cost.separable.SeparableCost` (calibration included) and, with depth weights, TF-NAS
sink-connecting ``P(l active) = sum_{d >= l+1} q(d)``: the torch view of the one expected-cost formula
(:func:`hwnas.cost.penalty.expected_torch`). It equals the table's ``expected`` for one weight vector, and takes
a ``(batch, K)`` weight matrix too, which is what FBNet's per-sample Gumbel masks need: each sample's
own architecture has its own latency (FBNet, Wu et al. 2019, Eq. 2-3 with Eq. 5-6).

The loss forms:

* FBNet (Eq. 1): ``CE * alpha * log(LAT)^beta`` with LAT in microseconds, the unit of the paper and its
  reproduction (our tables are in ms: ``log`` of ms would go negative below 1 ms); ``alpha=0.2, beta=0.6``;
  the additive variant ``CE + alpha * log(LAT)^beta`` on request;
* TF-NAS (Sec. 3.4): ``CE + lambda * |LAT / T - 1|`` with ``lambda=0.1``, pulling the expected latency to the
  target from both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from hwnas.cost.penalty import expected_torch
from hwnas.cost.separable import SeparableCost
from hwnas.space.base import candidate_width

FBNET_ALPHA = 0.2
FBNET_BETA = 0.6
TFNAS_LAMBDA = 0.1
LOSS_FORMS = ("multiplicative", "additive")


class LinearCost(nn.Module):
    """A sum cost of a space as a batched, differentiable function of op (and depth) weights."""

    def __init__(self, separable: SeparableCost, widths: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if separable.reduce != "sum":
            raise ValueError(f"{separable.name} is not a sum over layers; it cannot be a latency-style loss term")
        self.space, self.fixed = separable.space, separable.fixed
        self.separable = separable
        self.set_widths(widths)

    def set_widths(self, widths: Mapping[str, Any] | None) -> None:
        """Cost elastic slots at these widths (TF-NAS elasticity scaling changes them between epochs); a slot's
        width may be a tuple, one per candidate (TF-NAS: every operation at its own width)."""
        for slot in self.space.slots():
            width = None if widths is None else widths.get(slot.width_label)
            terms = [self.separable.candidate_term(slot, i, candidate_width(width, i))
                     for i in range(len(slot.candidates))]
            self.register_buffer(f"t_{slot.label}", torch.tensor(terms, dtype=torch.float32), persistent=False)

    def forward(self, op_weights: Mapping[str, torch.Tensor],
                depth_weights: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """The cost for weights of shape ``(K,)`` (a 0-d result) or ``(batch, K)`` (a ``(batch,)`` result)."""
        return expected_torch(self.space, op_weights, lambda slot, _: getattr(self, f"t_{slot.label}"), self.fixed,
                              depth_weights)


def fbnet_loss(ce: torch.Tensor, latency_ms: torch.Tensor, alpha: float = FBNET_ALPHA, beta: float = FBNET_BETA,
               form: str = "multiplicative") -> torch.Tensor:
    """FBNet Eq. 1 per sample, averaged: ``ce`` and ``latency_ms`` are ``(batch,)`` (or scalars)."""
    if form not in LOSS_FORMS:
        raise ValueError(f"FBNet loss form must be one of {LOSS_FORMS}, got {form!r}")
    factor = alpha * torch.log(latency_ms.clamp_min(1e-6) * 1000.0).clamp_min(1e-6) ** beta
    out = ce * factor if form == "multiplicative" else ce + factor
    return out.mean()


def tfnas_loss(ce: torch.Tensor, latency_ms: torch.Tensor, target_ms: float,
               lam: float = TFNAS_LAMBDA) -> torch.Tensor:
    """TF-NAS: ``CE + lambda * |LAT / T - 1|`` (Hu et al. 2020, Sec. 3.4)."""
    return ce.mean() + lam * (latency_ms / target_ms - 1.0).abs().mean()

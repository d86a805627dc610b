"""Architecture parameters of the differentiable methods: one logit vector per searched decision.

FBNet (Wu et al. 2019, Eq. 4) samples block ``i`` of layer ``l`` with probability ``softmax(theta_l)_i``; TF-NAS
(Hu et al. 2020) and HardCoRe-NAS (Nayman et al. 2021) do the same for ops (alpha) and stage depths (beta). The
labels are the space's own (``s{i}_b{j}_op``, ``s{i}_depth``), so probabilities plug straight into
:meth:`hwnas.supernet.Supernet.forward_per_sample` and :meth:`hwnas.cost.latency.table.LatencyTable.expected`. Width
decisions are not parameterised here (TF-NAS scales widths separately, :mod:`hwnas.search.parts.width_scaling`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from hwnas.space.base import Choice, SearchSpace
from hwnas.space.labels import is_depth_label, is_op_label, kind_of

EPS = 1e-20


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``-log(-log(U))`` with ``U ~ Uniform(0, 1)`` drawn from ``generator`` (a CPU generator: reproducible)."""
    u = torch.rand(shape, generator=generator, dtype=dtype)
    return (-torch.log(-torch.log(u + EPS) + EPS)).to(device)


def gumbel_softmax(logits: torch.Tensor, tau: float, generator: torch.Generator, batch: int,
                   hard: bool = False) -> torch.Tensor:
    """Per-sample Gumbel-softmax masks, shape ``(batch, K)`` (FBNet Eq. 6; Jang et al. 2017).

    Every row gets its own noise: sample ``b`` of a batch sees its own architecture, as the paper's per-sample
    expectation needs (the widely used reproduction draws one mask for the whole batch). ``hard`` returns one-hot
    values with the gradient of the soft mask (straight-through).
    """
    if not tau > 0:
        raise ValueError(f"Gumbel-softmax temperature must be > 0, got {tau}")
    g = gumbel_noise((batch, logits.shape[-1]), generator, logits.device, logits.dtype)
    soft = torch.softmax((logits.unsqueeze(0) + g) / tau, dim=-1)
    if not hard:
        return soft
    index = soft.detach().argmax(dim=-1, keepdim=True)
    one_hot = torch.zeros_like(soft).scatter_(-1, index, 1.0)
    return one_hot - soft.detach() + soft


class ArchParams(nn.Module):
    """Logits per op decision (and per depth decision, for spaces that have them), initialised to zero
    (uniform), as FBNet, TF-NAS and HardCoRe-NAS start."""

    def __init__(self, space: SearchSpace, depth: bool = True) -> None:
        super().__init__()
        self.space = space
        self.values: dict[str, tuple[Any, ...]] = {}
        logits = {}
        for dim in space.dims():
            if is_op_label(dim.label) or (depth and is_depth_label(dim.label)):
                logits[dim.label] = nn.Parameter(torch.zeros(len(dim.values)))
                self.values[dim.label] = dim.values
        self.logits = nn.ParameterDict(logits)

    def labels(self, kind: str) -> list[str]:
        """The decision labels of one kind (:data:`hwnas.space.labels.OP` or ``DEPTH``) that have logits."""
        return [label for label in self.values if kind_of(label) == kind]

    def probs(self) -> dict[str, torch.Tensor]:
        """Softmax of every logit vector (differentiable)."""
        return {label: torch.softmax(theta, dim=0) for label, theta in self.logits.items()}

    def op_probs(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.probs().items() if is_op_label(k)}

    def depth_probs(self) -> dict[str, torch.Tensor] | None:
        out = {k: v for k, v in self.probs().items() if is_depth_label(k)}
        return out or None

    def scores(self) -> dict[str, dict[Any, float]]:
        """Log-probabilities per decision and value: the preference :func:`hwnas.search.parts.projection.project`
        trades against the budgets."""
        with torch.no_grad():
            return {label: {v: float(lp) for v, lp in zip(self.values[label], torch.log_softmax(theta, 0))}
                    for label, theta in self.logits.items()}

    def argmax(self, base: Mapping[str, Any] | None = None) -> Choice:
        """The most probable value of every decision; others (widths) from ``base``, else their largest."""
        from hwnas.search.parts.projection import argmax_choice

        return argmax_choice(self.space, self.scores(), base)

    def sample(self, generator: torch.Generator, base: Mapping[str, Any] | None = None,
               temperature: float = 1.0) -> Choice:
        """An architecture drawn from ``P_theta`` (FBNet samples its final candidates this way, Sec. 3.3).

        ``temperature`` > 1 draws from ``P_theta ** (1 / temperature)`` (renormalised): a flatter distribution, for
        when a collapsed one keeps returning its argmax and distinct alternatives are wanted."""
        if not temperature > 0:
            raise ValueError(f"sampling temperature must be > 0, got {temperature}")
        choice = self.argmax(base)
        with torch.no_grad():
            for label, p in self.probs().items():
                if temperature != 1.0:
                    p = torch.softmax(torch.log(p + EPS) / temperature, 0)
                choice[label] = self.values[label][int(torch.multinomial(p.cpu(), 1, generator=generator))]
        return choice

    def snapshot(self) -> dict[str, list[float]]:
        """Probabilities as plain lists (the per-epoch history in result.json)."""
        with torch.no_grad():
            return {label: [round(float(v), 6) for v in p] for label, p in self.probs().items()}

    def entropy(self) -> float:
        """Mean entropy (nats) of the decisions' distributions, normalised by log(#values): 1 = uniform."""
        with torch.no_grad():
            values = [float(-(p * torch.log(p + EPS)).sum()) / math.log(len(p))
                      for p in self.probs().values() if len(p) > 1]
        return sum(values) / len(values) if values else 0.0

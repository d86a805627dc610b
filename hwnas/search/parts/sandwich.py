"""The sandwich rule and in-place distillation for one-shot supernet training (BigNAS, Yu et al. 2020, Sec. 3.1;
first in slimmable networks, Yu & Huang 2019).

Each step trains several paths of the supernet on the same batch and takes one optimiser step on the sum of their
gradients (a path's gradient reaches only the weights it uses; in an entangled supernet the paths overlap):

* the **largest** path (the space's heaviest choice), on the labels;
* the **smallest** path (the lightest choice), and ``n`` paths from the training sampler (uniform, or inside the
  budgets): the "sandwich", so the extremes of the space are trained every step and the paths between them,
  which share the extremes' weights, interpolate;
* with **in-place distillation**, every path but the largest learns the largest path's predicted distribution
  (soft cross-entropy, ``-sum_c p_largest(c) log p_path(c)``, the largest's output detached) instead of the labels:
  the biggest network teaches the rest at no extra cost, since its forward pass is already in the step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from hwnas.space.base import Choice
from hwnas.supernet import Supernet


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_c target(c) log softmax(logits)(c)`` (BigNAS's in-place distillation loss)."""
    return -(target_probs * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def sandwich_paths(largest: Choice, smallest: Choice, draw: Callable[[], Choice], count: int) -> list[Choice]:
    """The paths of one step: largest first (it is the teacher), smallest, then ``count`` drawn ones."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"sandwich_paths (random paths per step) must be a non-negative integer, got {count!r}")
    return [largest, smallest, *(draw() for _ in range(count))]


def sandwich_loss(supernet: Supernet, x: torch.Tensor, y: torch.Tensor, paths: Sequence[Choice],
                  distill: bool) -> torch.Tensor:
    """The summed loss of ``paths`` on ``(x, y)``; ``paths[0]`` is the largest (the teacher when ``distill``).

    The sum, not the mean: each path contributes the gradient it would in a step of its own, as when BigNAS
    accumulates the gradients of its sampled networks before one update.
    """
    total: torch.Tensor | None = None
    teacher: torch.Tensor | None = None
    for i, choice in enumerate(paths):
        supernet.set_active(choice)
        logits = supernet(x)
        if teacher is None or not distill:
            loss = F.cross_entropy(logits, y)
            if i == 0 and distill:
                teacher = F.softmax(logits.detach(), dim=1)
        else:
            loss = soft_cross_entropy(logits, teacher)
        total = loss if total is None else total + loss
    if total is None:
        raise ValueError("a sandwich step needs at least one path")
    return total

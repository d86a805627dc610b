"""Differentiable expected cost of a space under per-slot candidate and per-stage depth probabilities.

FBNet (Wu et al. 2019, Eq. 2-3 with the Gumbel-softmax relaxation of Eq. 5-6) and TF-NAS (Hu et al. 2020,
Sec. 3.4) turn an additive cost into a differentiable function of the architecture distribution:

    E[cost] = fixed + sum_l  P(slot l is active) * sum_i p_l(i) * cost_l(i)

where ``cost_l(i)`` is candidate ``i`` of slot ``l`` at its position (and width). Depth enters through
``P(slot l is active)``: with TF-NAS sink-connecting over the allowed depths ``d`` of a stage,
``sum_d q(d) * cost(first d slots) = sum_l cost_l * sum_{d > l} q(d)``, so slot ``l`` (0-based) counts with
weight ``sum_{d >= l + 1} q(d)``. Stages without depth probabilities keep every slot (as
:meth:`hwnas.supernet.Supernet.forward_mixture` does).

Costs that are a maximum rather than a sum (peak activation memory) use ``reduce="max"``: the maximum of the
fixed parts and of every slot's weighted expected cost. That is exact for one-hot probabilities and a lower bound
(Jensen) otherwise; gradients reach the probabilities of the slot that attains the maximum.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hwnas.space.base import SearchSpace, Slot

SlotCosts = Callable[[Slot, Any], Sequence[float]]
"""(slot, width or None) -> one cost per candidate, in the slot's candidate order."""


def probs_for(probs: Mapping[str, Any], label: str, count: int):
    """``probs[label]``, checked to be a 1-D tensor of ``count`` values (architecture weights or probabilities)."""
    import torch

    if label not in probs:
        raise ValueError(f"no probabilities for {label!r}: pass a 1-D tensor of {count} values for it")
    p = probs[label]
    if not isinstance(p, torch.Tensor) or tuple(p.shape) != (count,):
        shape = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(f"probabilities for {label!r} must be a tensor of shape ({count},), got {shape}")
    return p


def slot_width(slot: Slot, widths: Mapping[str, Any] | None) -> Any:
    """The width a slot is costed at: ``widths[slot.width_label]``, default its largest; None if not elastic."""
    if slot.widths is None:
        return None
    width = (widths or {}).get(slot.width_label, slot.widths[-1])
    if width not in slot.widths:
        raise ValueError(f"{slot.width_label}={width!r} is not one of the slot's widths")
    return width


def active_weights(space: SearchSpace, stage: int, depth_probs: Mapping[str, Any] | None) -> list[Any]:
    """P(slot j of ``stage`` is active) for every slot j: a tensor sum of depth probabilities, or 1.0."""
    slots = space.slots_by_stage[stage]
    if depth_probs is None or stage not in space.min_depth or f"s{stage}_depth" not in depth_probs:
        return [1.0] * len(slots)
    lo = space.min_depth[stage]
    q = probs_for(depth_probs, f"s{stage}_depth", len(slots) - lo + 1)  # q[k] = P(depth = lo + k)
    return [q[max(0, j + 1 - lo):].sum() for j in range(len(slots))]


def expected_cost(space: SearchSpace, slot_costs: SlotCosts, fixed: float, op_probs: Mapping[str, Any],
                  depth_probs: Mapping[str, Any] | None = None, widths: Mapping[str, Any] | None = None,
                  reduce: str = "sum"):
    """E[cost] as a 0-d tensor in the dtype and device of the probabilities (see the module docstring).

    ``op_probs``: ``s{i}_b{j}_op`` -> 1-D tensor over the slot's candidates (the keys of
    :mod:`hwnas.supernet`); ``depth_probs``: ``s{i}_depth`` -> 1-D tensor over the allowed depths, increasing;
    ``widths``: width label -> value for elastic slots (default the largest).
    """
    import torch

    if reduce not in ("sum", "max"):
        raise ValueError(f"reduce must be 'sum' or 'max', got {reduce!r}")
    terms = []
    for s, stage in enumerate(space.slots_by_stage):
        for slot, active in zip(stage, active_weights(space, s, depth_probs)):
            p = probs_for(op_probs, slot.op_label, len(slot.candidates))
            costs = torch.as_tensor(list(slot_costs(slot, slot_width(slot, widths))), dtype=p.dtype, device=p.device)
            terms.append(active * (p * costs).sum())
    if not terms:
        raise ValueError(f"space {space.name!r} has no searchable slots")
    stacked = torch.stack(terms)
    base = torch.as_tensor(fixed, dtype=stacked.dtype, device=stacked.device)
    return base + stacked.sum() if reduce == "sum" else torch.maximum(base, stacked.max())

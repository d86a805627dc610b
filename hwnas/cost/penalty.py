"""The expected cost of a space under architecture weights: the one formula, in a torch and a numpy view.

FBNet (Wu et al. 2019, Eq. 2-3 with the Gumbel-softmax relaxation of Eq. 5-6), TF-NAS (Hu et al. 2020, Sec. 3.4)
and HardCoRe-NAS (Nayman et al. 2021, Sec. 3.2) turn a cost that is a sum over layers into a function of the
architecture distribution:

    E[cost] = fixed + sum_l  P(slot l is active) * sum_i p_l(i) * cost_l(i)

where ``cost_l(i)`` is candidate ``i`` of slot ``l`` at its position (and width). Depth enters through
``P(slot l is active)``, by TF-NAS sink-connecting over the allowed depths ``d`` of a stage:
``sum_d q(d) * cost(first d slots) = sum_l cost_l * sum_{d > l} q(d)``, so slot ``l`` (0-based) counts with
weight ``sum_{d >= l + 1} q(d)`` (:func:`sink_start`); the slots below the stage's smallest depth always count,
and so does every slot of a stage without depth weights.

Costs that are a maximum rather than a sum (peak activation memory) take ``reduce="max"``: the maximum of the
fixed part and of every slot's weighted expected cost. That is exact for one-hot weights and a lower bound
(Jensen) otherwise; gradients reach the weights of the slot that attains the maximum.

Two views of the same loop (:func:`_weighted_terms`):

* :func:`expected_torch`: differentiable, weights of shape ``(K,)`` or batched ``(..., K)`` (FBNet's per-sample
  Gumbel masks: each sample's architecture has its own cost). Cost models' ``expected`` and the DNAS loss terms
  use it (:class:`hwnas.search.parts.objectives.LinearCost`).
* :func:`expected_numpy`: float64 arrays, several costs at once (one row per budget): the constraints of
  HardCoRe-NAS's Frank-Wolfe linear programs (:mod:`hwnas.search.parts.bcfw`).

Each view sums a stage's depth tail in its own fixed order (the torch one by a reversed cumulative sum, the numpy
one left to right), so that a search reproduces its results bit for bit. No torch or numpy at import: this
module is imported by the cost models, which a device without torch imports too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from hwnas.space.base import SearchSpace, Slot
from hwnas.space.labels import depth_label

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


# ------------------------------------------------------------------------------------------ sink-connecting
def sink_start(slot: int, min_depth: int) -> int | None:
    """Slot ``slot`` (0-based) of a stage runs at depths ``d >= slot + 1``: its weight is ``q[k:].sum()`` with
    ``k`` returned here (``q[k]`` is P(depth = min_depth + k)); None for a slot every allowed depth runs."""
    return slot + 1 - min_depth if slot + 1 > min_depth else None


def stage_depth(space: SearchSpace, stage: int, depth: Mapping[str, Any] | None) -> Any:
    """The depth weights of ``stage`` (over ``min_depth .. len(stage)``, increasing), or None when every slot of
    the stage counts fully: no weights given for it, or its depth is fixed."""
    label = depth_label(stage)
    if depth is None or stage not in space.min_depth or label not in depth:
        return None
    return depth[label]


def sink_active_torch(q: Any, min_depth: int, slots: int) -> Any:
    """``P(slot j active)`` for a stage's ``slots`` slots under depth weights ``q`` of shape ``(..., depths)``: a
    tensor of shape ``(..., slots)``."""
    import torch

    tail = torch.flip(torch.cumsum(torch.flip(q, [-1]), -1), [-1])  # tail[k] = sum_{k' >= k} q[k']
    cols = []
    for j in range(slots):
        k = sink_start(j, min_depth)
        cols.append(torch.ones_like(q[..., 0]) if k is None else tail[..., k])
    return torch.stack(cols, -1)


def sink_active_numpy(q: Any, min_depth: int, slots: int) -> Any:
    """``P(slot j active)`` for a stage's ``slots`` slots under a depth distribution ``q`` (1-D): shape
    ``(slots,)``, float64."""
    import numpy as np

    starts = [sink_start(j, min_depth) for j in range(slots)]
    return np.array([1.0 if k is None else float(q[k:].sum()) for k in starts])


# ------------------------------------------------------------------------------------------ the formula
def _weighted_terms(space: SearchSpace, contract: Callable[[Slot], Any],
                    active: Callable[[int, int], Any]) -> Iterator[Any]:
    """``P(slot l active) * sum_i p_l(i) * cost_l(i)`` for every slot, stage by stage: ``contract(slot)`` is the
    inner sum, ``active(stage, slots)`` the stage's sink-connect weights (last axis over its slots) or None."""
    for s, stage in enumerate(space.slots_by_stage):
        weights = active(s, len(stage))
        for j, slot in enumerate(stage):
            term = contract(slot)
            yield term if weights is None else weights[..., j] * term


def expected_torch(space: SearchSpace, op_weights: Mapping[str, Any],
                   slot_costs: Callable[[Slot, Any], Any], fixed: float,
                   depth_weights: Mapping[str, Any] | None = None, reduce: str = "sum") -> Any:
    """E[cost] as a tensor: 0-d for weights of shape ``(K,)``, ``(batch,)`` for ``(batch, K)``.

    ``op_weights``: ``s{i}_b{j}_op`` -> weights over the slot's candidates; ``slot_costs(slot, weights)``: the
    slot's candidate costs as a tensor (cast to the weights' dtype here); ``depth_weights``: ``s{i}_depth`` ->
    weights over the stage's allowed depths, increasing.
    """
    import torch

    if reduce not in ("sum", "max"):
        raise ValueError(f"reduce must be 'sum' or 'max', got {reduce!r}")

    def contract(slot: Slot) -> Any:
        w = op_weights[slot.op_label]
        return (w * slot_costs(slot, w).to(w.dtype)).sum(-1)

    def active(stage: int, slots: int) -> Any:
        q = stage_depth(space, stage, depth_weights)
        return None if q is None else sink_active_torch(q, space.min_depth[stage], slots)

    terms = _weighted_terms(space, contract, active)
    if reduce == "max":
        stacked = torch.stack(list(terms), -1)
        return torch.maximum(torch.as_tensor(fixed, dtype=stacked.dtype, device=stacked.device), stacked.amax(-1))
    total: Any = fixed
    for term in terms:
        total = total + term
    return total if isinstance(total, torch.Tensor) else torch.tensor(total)


def expected_numpy(space: SearchSpace, fixed: Any, terms: Mapping[str, Any], alpha: Mapping[str, Any],
                   beta: Mapping[str, Any]) -> Any:
    """E[cost] of ``m`` sum costs at once, shape ``(m,)``: ``fixed`` ``(m,)``, ``terms`` op label -> ``(m, K)``
    per-candidate costs, ``alpha`` op label -> ``(K,)`` and ``beta`` ``s{i}_depth`` -> ``(depths,)``
    distributions."""
    def active(stage: int, slots: int) -> Any:
        q = stage_depth(space, stage, beta)
        return None if q is None else sink_active_numpy(q, space.min_depth[stage], slots)

    total = fixed.copy()
    for term in _weighted_terms(space, lambda slot: terms[slot.op_label] @ alpha[slot.op_label], active):
        total = total + term
    return total


def slot_active_numpy(space: SearchSpace, beta: Mapping[str, Any]) -> dict[str, float]:
    """P(slot active) for every slot (by slot label) under the depth distributions ``beta``."""
    out = {}
    for s, stage in enumerate(space.slots_by_stage):
        q = stage_depth(space, s, beta)
        weights = None if q is None else sink_active_numpy(q, space.min_depth[s], len(stage))
        for j, slot in enumerate(stage):
            out[slot.label] = 1.0 if weights is None else float(weights[j])
    return out


# ------------------------------------------------------------------------------------------ cost models
def expected_cost(space: SearchSpace, slot_costs: SlotCosts, fixed: float, op_probs: Mapping[str, Any],
                  depth_probs: Mapping[str, Any] | None = None, widths: Mapping[str, Any] | None = None,
                  reduce: str = "sum"):
    """A cost model's ``expected``: E[cost] as a 0-d tensor in the dtype and device of the probabilities.

    ``op_probs``: ``s{i}_b{j}_op`` -> 1-D tensor over the slot's candidates (the keys of :mod:`hwnas.supernet`);
    ``depth_probs``: ``s{i}_depth`` -> 1-D tensor over the allowed depths, increasing; ``widths``: width label ->
    value for elastic slots (default the largest). Probabilities are checked (:func:`probs_for`).
    """
    import torch

    if not space.slots():
        raise ValueError(f"space {space.name!r} has no searchable slots")
    ops = {slot.op_label: probs_for(op_probs, slot.op_label, len(slot.candidates)) for slot in space.slots()}
    depth = {}
    for s, stage in enumerate(space.slots_by_stage):
        if stage_depth(space, s, depth_probs) is not None:
            label = depth_label(s)
            depth[label] = probs_for(depth_probs, label, len(stage) - space.min_depth[s] + 1)

    def costs(slot: Slot, p: Any) -> Any:
        return torch.as_tensor(list(slot_costs(slot, slot_width(slot, widths))), dtype=p.dtype, device=p.device)

    return expected_torch(space, ops, costs, fixed, depth, reduce)

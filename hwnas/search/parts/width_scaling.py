"""TF-NAS elasticity scaling: adjust the mid widths of an architecture until its latency meets the target.

TF-NAS (Hu et al. 2020, Sec. 3.3; its ``train_search.py``) does this after every search epoch on the argmax
architecture, which is what lets it land on the target latency instead of near it:

1. if the latency exceeds the target ``T``, shrink the mid widths of every stage together, step by step, until
   it does not;
2. then grow progressively smaller groups of stages (all stages, then all but the first, ..., then the last
   stage alone), each group as long as the latency stays within ``T``: later groups change fewer blocks per
   step, so the steps get finer and the latency closes in on ``T`` from below;
3. (hwnas) then widen single blocks by one width value while the latency stays within ``T`` (and, where no
   single widening fits, trade one block a value wider against another a value narrower): TF-NAS's phase 2
   stops as soon as the widest blocks of a group reach their bounds, which can leave several percent of the
   budget unused; this last phase lands within about one block-channel's latency of ``T``.

A step changes every selected block's width ``mc`` by ``round(mc / min mc)`` of the selected blocks, so wide
blocks move proportionally more (the smallest by one channel). Widths stay in ``[hi // 2, hi]`` with ``hi`` the
candidate's largest mask: ``4 * in`` for nominal expansion 3, ``8 * in`` for 6 (TF-NAS ``mc_mask_dddict``), and
within the slot's own width values. Slots without widths (FBNet, HardCoRe-NAS spaces) are left alone.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from typing import Any

from hwnas.space.base import Choice, SearchSpace, Slot
from hwnas.space.labels import is_width_label

MAX_STEPS = 10_000


def width_bounds(space: SearchSpace, slot: Slot, choice: Mapping[str, Any]) -> tuple[int, int]:
    """``(lo, hi)`` mid width of ``slot`` under its chosen candidate (see the module docstring)."""
    block = slot.candidates[choice[slot.op_label]]
    hi = slot.widths[-1]
    if block.kind.width_field == "mid" and block.exp in (3, 6) and isinstance(hi, int):
        hi = min(hi, int(round(block.exp * 4 / 3 * slot.in_ch)))
    lo = max(slot.widths[0], hi // 2)
    return lo, hi


def initial_widths(space: SearchSpace, choice: Mapping[str, Any]) -> Choice:
    """Every elastic slot at its candidate's nominal width ``e * in`` (TF-NAS's initial masks), clipped to its
    bounds."""
    out = dict(choice)
    for slot in space.slots():
        if slot.widths is None or not isinstance(slot.widths[-1], int):
            continue
        out[slot.width_label] = _nominal(space, slot, choice[slot.op_label])
    return out


def _nominal(space: SearchSpace, slot: Slot, name: str) -> int:
    """Candidate ``name``'s nominal width ``e * in`` in ``slot``, clipped to its bounds."""
    lo, hi = width_bounds(space, slot, {slot.op_label: name})
    return _snap(slot, min(max(int(round(slot.candidates[name].exp * slot.in_ch)), lo), hi))


def op_widths(space: SearchSpace) -> dict[str, tuple]:
    """Every elastic slot's widths, one per candidate in candidate order, each at its nominal ``e * in`` (TF-NAS
    gives every operation of a block its own channel mask, initialised at that width; Hu et al. 2020, Sec. 3.3):
    what a TF-NAS search trains and costs each candidate at (:func:`hwnas.space.base.candidate_width`)."""
    out = {}
    for slot in space.slots():
        if slot.widths is None or not isinstance(slot.widths[-1], int):
            continue
        out[slot.width_label] = tuple(_nominal(space, slot, name) if slot.candidates[name].kind.width_field == "mid"
                                      else slot.widths[-1] for name in slot.candidates)
    return out


def chosen_widths(space: SearchSpace, per_op: Mapping[str, Any], choice: Mapping[str, Any]) -> Choice:
    """The width of each slot's chosen candidate under per-candidate widths ``per_op`` (see :func:`op_widths`)."""
    out = {}
    for slot in space.slots():
        width = per_op.get(slot.width_label)
        if isinstance(width, (tuple, list)):
            out[slot.width_label] = width[list(slot.candidates).index(choice[slot.op_label])]
        elif width is not None:
            out[slot.width_label] = width
    return out


def with_chosen_widths(space: SearchSpace, per_op: Mapping[str, Any], choice: Mapping[str, Any]) -> dict[str, Any]:
    """``per_op`` with each slot's chosen candidate set to ``choice``'s width (elasticity scaling rescales the
    chosen operation only; the others keep theirs)."""
    out = dict(per_op)
    for slot in space.slots():
        width = out.get(slot.width_label)
        if isinstance(width, (tuple, list)) and slot.width_label in choice:
            width = list(width)
            width[list(slot.candidates).index(choice[slot.op_label])] = choice[slot.width_label]
            out[slot.width_label] = tuple(width)
    return out


def _snap(slot: Slot, width: int) -> Any:
    """The slot's width value nearest to ``width``."""
    values = slot.widths
    i = bisect.bisect_left(values, width)
    candidates = values[max(i - 1, 0):i + 1]
    return min(candidates, key=lambda v: (abs(v - width), v))


def _elastic_slots(space: SearchSpace, choice: Mapping[str, Any]) -> dict[int, list[Slot]]:
    """Stage -> its active slots with int widths whose block uses them (``ir``, not skip)."""
    out: dict[int, list[Slot]] = {}
    for slot in space.active_slots(choice):
        if slot.widths is not None and isinstance(slot.widths[-1], int) and \
                slot.candidates[choice[slot.op_label]].kind.width_field == "mid":
            out.setdefault(slot.stage, []).append(slot)
    return out


def _step(space: SearchSpace, choice: Choice, slots: list[Slot], sign: int) -> Choice:
    widths = [choice[s.width_label] for s in slots]
    smallest = max(min(widths), 1)
    out = dict(choice)
    for slot, mc in zip(slots, widths):
        lo, hi = width_bounds(space, slot, choice)
        want = min(max(mc + sign * max(int(round(mc / smallest)), 1), lo), hi)
        new = _snap(slot, want)
        if new == mc and want != mc:  # a width grid coarser than the step (a YAML space, step 8) would snap
            new = _next_width(space, slot, choice, sign) or mc  # back to where it was: take the next value
        out[slot.width_label] = new
    return out


def elasticity_scale(space: SearchSpace, choice: Mapping[str, Any], latency: Callable[[Mapping[str, Any]], float],
                     target: float) -> tuple[Choice, list[dict[str, Any]]]:
    """The widths of ``choice`` scaled to ``target`` (ms); returns the new choice and a log of the phases."""
    choice = dict(choice)
    stages = _elastic_slots(space, choice)
    order = sorted(stages)
    trace: list[dict[str, Any]] = []
    if not order:
        return choice, trace
    everything = [slot for s in order for slot in stages[s]]
    steps = 0
    while latency(choice) > target and steps < MAX_STEPS:  # 1. shrink all stages
        smaller = _step(space, choice, everything, -1)
        if smaller == choice:  # every width at its lower bound
            break
        choice, steps = smaller, steps + 1
    trace.append({"phase": "shrink", "steps": steps, "latency_ms": latency(choice)})
    for k in range(len(order)):  # 2. grow stages k.. while within the target
        group = [slot for s in order[k:] for slot in stages[s]]
        steps = 0
        while steps < MAX_STEPS:
            larger = _step(space, choice, group, +1)
            if larger == choice or latency(larger) > target:
                break
            choice, steps = larger, steps + 1
        trace.append({"phase": f"grow stages {order[k]}..{order[-1]}", "steps": steps,
                      "latency_ms": latency(choice)})
    choice, steps = _fill(space, choice, everything, latency, target)
    trace.append({"phase": "fill", "steps": steps, "latency_ms": latency(choice)})
    return choice, trace


def _next_width(space: SearchSpace, slot: Slot, choice: Mapping[str, Any], sign: int) -> Any:
    """The slot's next width value up (``sign`` +1) or down (-1) from its current one, inside its bounds; or
    ``None``."""
    lo, hi = width_bounds(space, slot, choice)
    i = slot.widths.index(choice[slot.width_label]) + sign
    if 0 <= i < len(slot.widths) and lo <= slot.widths[i] <= hi:
        return slot.widths[i]
    return None


def _fill(space: SearchSpace, choice: Choice, slots: list[Slot], latency: Callable[[Mapping[str, Any]], float],
          target: float) -> tuple[Choice, int]:
    """3. (hwnas) Widen single blocks by one width value, the largest step that still fits each time, until none
    does: phase 2 stops when its group's widest blocks reach their bounds, leaving up to a few percent unused."""
    steps = 0
    while steps < MAX_STEPS:
        best, best_latency = None, -1.0
        for slot in slots:
            wider = _next_width(space, slot, choice, +1)
            if wider is None:
                continue
            trial = {**choice, slot.width_label: wider}
            value = latency(trial)
            if best_latency < value <= target:
                best, best_latency = trial, value
        if best is None:
            best = _exchange(space, choice, slots, latency, target)
        if best is None:
            return choice, steps
        choice, steps = best, steps + 1
    return choice, steps


def _exchange(space: SearchSpace, choice: Choice, slots: list[Slot], latency: Callable[[Mapping[str, Any]], float],
              target: float) -> Choice | None:
    """(hwnas) The pair move "one block a width value wider, another a value narrower" that raises the latency
    most within ``target``, or ``None``: on a coarse width grid (steps of 8 channels) no single widening fits the
    last few percent, while a wide step traded against a narrow one often does."""
    current = latency(choice)
    best, best_latency = None, current
    for up in slots:
        up_width = _next_width(space, up, choice, +1)
        if up_width is None:
            continue
        for down in slots:
            down_width = None if down is up else _next_width(space, down, choice, -1)
            if down_width is None:
                continue
            trial = {**choice, up.width_label: up_width, down.width_label: down_width}
            value = latency(trial)
            if best_latency < value <= target:
                best, best_latency = trial, value
    return best


def reach_target(space: SearchSpace, choice: Mapping[str, Any], latency: Callable[[Mapping[str, Any]], float],
                 target: float, scores: Mapping[str, Mapping[Any, float]],
                 fits: Callable[[Mapping[str, Any]], bool] = lambda c: True,
                 tolerance: float = 0.01) -> tuple[Choice, list[dict[str, Any]]]:
    """Elasticity scaling, then (hwnas) structural growth where widths alone cannot reach ``target``.

    Width scaling cannot reach a target that the chosen ops and depths miss even at their widest widths (a short
    search whose argmax kept one block per stage). While the latency is more than ``tolerance`` below ``target``,
    this makes the one op or depth change that gives up the least preference (``scores``: label -> value ->
    log-probability, as :func:`hwnas.search.parts.projection.preference` reads them) per ms gained, keeping the latency
    within ``target`` and ``fits`` (the other budgets) true, with the blocks it adds at their narrowest widths,
    then rescales the widths. It stops within the tolerance or when no change fits.
    """
    from hwnas.search.parts.projection import preference

    choice, trace = elasticity_scale(space, choice, latency, target)
    structural = [d for d in space.dims() if not is_width_label(d.label)]
    while latency(choice) < (1 - tolerance) * target:
        current, pref = latency(choice), preference(scores, choice)
        best, best_key = None, None
        for dim in structural:
            for value in dim.values:
                if value == choice[dim.label]:
                    continue
                trial = _narrow_new_slots(space, choice, {**choice, dim.label: value})
                gained = latency(trial) - current
                if gained <= 0:
                    continue
                if latency(trial) > target:  # too heavy as is: give it the chance to shrink the others
                    trial, _ = elasticity_scale(space, trial, latency, target)
                    gained = latency(trial) - current
                    if gained <= 0 or latency(trial) > target:
                        continue
                if not fits(trial):
                    continue
                key = (max(pref - preference(scores, trial), 0.0) / gained, -gained)
                if best_key is None or key < best_key:
                    best, best_key = trial, key
        if best is None:
            break
        moved = [k for k in best if best[k] != choice[k] and not is_width_label(k)]
        choice, phases = elasticity_scale(space, best, latency, target)
        if not fits(choice):  # widening may break a budget the width-free move kept: keep the move alone
            choice = best
        trace.append({"phase": f"change {', '.join(f'{k}={best[k]}' for k in moved)}", "steps": len(phases),
                      "latency_ms": latency(choice)})
    return choice, trace


def _narrow_new_slots(space: SearchSpace, before: Mapping[str, Any], after: Choice) -> Choice:
    """``after`` with the slots it activates (a deeper stage) at their lowest width, and every other width
    clipped to the bounds of its (possibly new) op."""
    active = {slot.label for slot in space.active_slots(before)}
    for stage_slots in _elastic_slots(space, after).values():
        for slot in stage_slots:
            if slot.label not in active:
                after[slot.width_label] = _snap(slot, width_bounds(space, slot, after)[0])
            else:  # a new op may have other bounds: keep the width inside them
                lo, hi = width_bounds(space, slot, after)
                after[slot.width_label] = _snap(slot, min(max(after[slot.width_label], lo), hi))
    return after

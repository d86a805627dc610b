"""A latency table bound to one search space: the space's fixed part summed once, per-slot times cached.

The expected latency (FBNet Eq. 2-3 in expectation, :meth:`hwnas.cost.latency.table.LatencyTable.expected`) runs
at every step of a differentiable search; looking up every candidate of every slot each time would dominate it.
The ops of a space's fixed part (stem, prefix, suffix, head) and of each candidate at each width do not change, so
they are looked up once per space: this object holds those sums and per-(slot, width) lists. It depends on the
table's calibration (the corrected times subtract each op's calibration correction), so the table makes a new one
whenever its calibration changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwnas.cost.lut_keys import OpSpec, candidate_op, fixed_ops, space_layout
from hwnas.space.base import SearchSpace


class BoundSpace:
    """Times of ``space``'s ops from ``lookup`` (median ms of an op) and ``correction`` (what the calibration
    subtracts from it); the caller checks that the table fits the space first."""

    def __init__(self, space: SearchSpace, lookup: Callable[[OpSpec], float],
                 correction: Callable[[OpSpec], float]) -> None:
        self.space = space
        self._lookup, self._correction = lookup, correction
        fixed = fixed_ops(space)
        self.fixed_ms = sum(lookup(op) for op in fixed)
        self.fixed_correction = sum(correction(op) for op in fixed)
        self._sizes = space_layout(space).slot_sizes
        self._slots: dict[tuple[str, Any, bool], list[float]] = {}

    def slot_latencies(self, slot: Any, width: Any, corrected: bool = False) -> list[float]:
        """Median ms of every candidate of ``slot`` at ``width``, in candidate order (``corrected``: less the
        calibration's per-op correction)."""
        key = (slot.label, width, corrected)
        if key not in self._slots:
            size = self._sizes[slot.label]
            ops = [candidate_op(self.space, slot, name, width, size) for name in slot.candidates]
            self._slots[key] = [self._lookup(op) - (self._correction(op) if corrected else 0.0) for op in ops]
        return self._slots[key]

"""A cost model seen slot by slot: exact costs of whole choices from per-candidate tables, in pure Python.

Every cost hwnas models is *separable* over a space's slots: the latency table sums ops (FBNet, Wu et al. 2019,
Eq. 2-3) and applies an affine calibration; MACs and params are sums; peak activation memory is a maximum. So a
choice's cost is a fixed part plus (or max with) one term per active slot, and the term depends only on that
slot's candidate and width. :class:`SeparableCost` reads those terms off the model's own ``expected`` (the
one-hot case, which equals ``cost(spec)`` exactly) once, and then costs any choice without building a spec.

That is what the search methods need many thousands of times: the smallest achievable value of a budget (is it
feasible at all?), the linear programs of HardCoRe-NAS's Frank-Wolfe steps, the projections that make
DNAS results meet a hard budget, and the constraint filters of evolution and random search.

With ``E0`` the model's expected cost when every probability is zero (the fixed part, calibrated) and ``E(l, i)``
the expected cost when only candidate ``i`` of slot ``l`` has probability one:

* sum costs (latency, MACs, params): ``cost = E0 + sum_{active l} (E(l, c_l) - E0)``, exact because the
  calibration is affine;
* max costs (peak memory): ``cost = max(E0, max_{active l} E(l, c_l))``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hwnas.cost.models import CostModel
from hwnas.space.base import Choice, SearchSpace, Slot
from hwnas.space.labels import depth_label


SCAN_WIDTHS = 16
"""Elastic slots with at most this many widths have every width costed when looking for the lightest choice."""


def reduction_of(model: CostModel) -> str:
    """``"max"`` for costs that are a maximum over layers (peak activation memory), else ``"sum"``."""
    return "max" if getattr(model, "name", "") == "peak_bytes" else "sum"


class SeparableCost:
    """The per-slot decomposition of ``model`` over ``space`` (see the module docstring).

    Candidate terms are computed lazily per (slot, width) and cached, so elastic spaces with a thousand widths per
    slot cost only the widths a search visits.
    """

    def __init__(self, model: CostModel, space: SearchSpace) -> None:
        self.model = model
        self.space = space
        self.reduce = reduction_of(model)
        self._slots = {slot.label: slot for slot in space.slots()}
        self._terms: dict[tuple[str, int, Any], float] = {}
        self.fixed = float(self._expected({}))

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def units(self) -> str:
        return self.model.units

    # ------------------------------------------------------------------------------------------ tables
    def _expected(self, hot: Mapping[str, int], widths: Mapping[str, Any] | None = None) -> float:
        import torch

        probs = {}
        for slot in self.space.slots():
            p = torch.zeros(len(slot.candidates), dtype=torch.float64)
            if slot.op_label in hot:
                p[hot[slot.op_label]] = 1.0
            probs[slot.op_label] = p
        with torch.no_grad():
            return float(self.model.expected(self.space, probs, None, widths))

    def terms(self, slot: Slot, width: Any = None) -> list[float]:
        """The cost slot ``slot`` adds per candidate at ``width`` (default its largest): ``E(l, i) - E0`` for
        sum costs, ``E(l, i)`` for max costs, in candidate order."""
        return [self.candidate_term(slot, i, width) for i in range(len(slot.candidates))]

    def candidate_term(self, slot: Slot, index: int, width: Any = None) -> float:
        """The cost candidate ``index`` of ``slot`` adds at ``width`` (one entry of :meth:`terms`)."""
        if slot.widths is not None and width is None:
            width = slot.widths[-1]
        key = (slot.label, index, width)
        if key not in self._terms:
            widths = {slot.width_label: width} if slot.widths is not None else None
            value = self._expected({slot.op_label: index}, widths)
            self._terms[key] = value - self.fixed if self.reduce == "sum" else value
        return self._terms[key]

    def term(self, slot: Slot, choice: Mapping[str, Any]) -> float:
        """The cost ``slot`` adds under ``choice``."""
        index = list(slot.candidates).index(choice[slot.op_label])
        return self.candidate_term(slot, index, choice.get(slot.width_label))

    # ------------------------------------------------------------------------------------------ costs
    def cost(self, choice: Mapping[str, Any]) -> float:
        """The cost of ``choice``: equal to ``model.cost(space.to_spec(choice))``."""
        values = [self.term(slot, choice) for slot in self.space.active_slots(choice)]
        if self.reduce == "sum":
            return self.fixed + sum(values)
        return max([self.fixed, *values])

    def lightest(self, largest_widths: bool = False,
                 allowed: Mapping[str, Sequence[Any]] | None = None) -> Choice:
        """The choice of least cost: each slot's cheapest candidate and width, each stage's cheapest depth.

        Exact for separable costs, where every term is minimised independently. Widths are scanned when a slot
        has at most :data:`SCAN_WIDTHS` of them, else the narrowest is taken (costs grow with width);
        ``largest_widths`` keeps every width at its largest (methods that search ops and depth only);
        ``allowed`` (width label -> increasing widths) limits a slot to some of its widths (the widths a channel
        warm-up has opened so far).
        """
        choice: Choice = {}
        best: dict[str, float] = {}
        for slot in self.space.slots():
            widths = slot.widths if slot.widths is None else tuple((allowed or {}).get(slot.width_label, slot.widths))
            if widths is None:
                options = [None]
            elif largest_widths:
                options = widths[-1:]
            else:
                options = widths if len(widths) <= SCAN_WIDTHS else widths[:1]
            value, name, width = min((t, name, w) for w in options
                                     for name, t in zip(slot.candidates, self.terms(slot, w)))
            choice[slot.op_label], best[slot.label] = name, value
            if slot.widths is not None:
                choice[slot.width_label] = width
        for stage, low in self.space.min_depth.items():
            slots = self.space.slots_by_stage[stage]
            totals = {d: self._combine([best[s.label] for s in slots[:d]]) for d in range(low, len(slots) + 1)}
            choice[depth_label(stage)] = min(totals, key=lambda d: (totals[d], d))
        return choice

    def _combine(self, values: list[float]) -> float:
        return sum(values) if self.reduce == "sum" else max(values, default=float("-inf"))

    def minimum(self, largest_widths: bool = False) -> float:
        """The smallest value this cost takes over the space (with every width at its largest, if asked)."""
        return self.cost(self.lightest(largest_widths))

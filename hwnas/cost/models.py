"""Cost models with one interface, and constraints on any of them.

A :class:`CostModel` gives the exact cost of one network (``cost(spec)``) and the differentiable expected cost of
a space under architecture probabilities (``expected(space, op_probs, depth_probs, widths)``), the form FBNet
(Wu et al. 2019, Eq. 2-3) and TF-NAS (Hu et al. 2020, Sec. 3.4) put in their losses. Implementations:

* :class:`hwnas.cost.latency.table.LatencyTable`: measured latency, ms;
* :class:`AnalyticCost` with ``metric`` ``"macs"``, ``"params"`` or ``"peak_bytes"``: the analytic counts of
  :mod:`hwnas.cost.counting`. MACs and params are sums over ops, so their expectation is computed per slot
  candidate exactly like the latency's; peak activation memory is a maximum (see :mod:`hwnas.cost.penalty`).

Any cost model becomes a hard constraint with :class:`Constraint` (``satisfied(spec)``) or a penalty through its
``expected``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hwnas.arch.resolve import resolve_block
from hwnas.arch.spec import ArchSpec
from hwnas.cost.counting import block_cost, per_layer_costs
from hwnas.cost.lut_keys import space_layout
from hwnas.cost.penalty import expected_cost
from hwnas.space.base import SearchSpace, Slot


@runtime_checkable
class CostModel(Protocol):
    """What search methods and constraints need from a cost."""

    name: str  # "latency", "macs", "params", "peak_bytes"
    units: str  # "ms", "MACs", "params", "bytes"

    def cost(self, spec: ArchSpec) -> float:
        """The cost of one network."""
        ...

    def expected(self, space: SearchSpace, op_probs: Mapping[str, Any], depth_probs: Mapping[str, Any] | None = None,
                 widths: Mapping[str, Any] | None = None) -> Any:
        """The expected cost under per-slot candidate (and per-stage depth) probabilities, a 0-d tensor."""
        ...


METRICS = {"macs": "MACs", "params": "params", "peak_bytes": "bytes"}
"""Analytic metric -> units."""

MIB = 2**20
"""Bytes in a MiB: memory budgets and reports are in MiB, the ``peak_bytes`` model in bytes."""


@dataclass(frozen=True)
class AnalyticCost:
    """MACs, params or modelled peak activation memory of a network at a fixed geometry (no measurement).

    ``cost`` equals :func:`~hwnas.cost.counting.count_macs`, :func:`~hwnas.cost.counting.count_params` and
    :func:`~hwnas.cost.counting.peak_activation_bytes` for the same arguments.
    """

    metric: str
    input_size: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    dtype_bytes: int = 4
    batch: int = 1

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown analytic cost {self.metric!r}; valid: {', '.join(METRICS)}")

    @classmethod
    def for_space(cls, metric: str, space: SearchSpace, **options: Any) -> AnalyticCost:
        g = space.geometry
        return cls(metric, g.input_size, g.in_channels, g.num_classes, **options)

    @property
    def name(self) -> str:
        return self.metric

    @property
    def units(self) -> str:
        return METRICS[self.metric]

    @property
    def description(self) -> str:
        return f"{self.metric} (analytic, {self.input_size} px, {self.num_classes} classes)"

    def _rows(self, spec: ArchSpec) -> list[dict]:
        return per_layer_costs(spec, self.input_size, self.num_classes, self.in_channels, self.dtype_bytes,
                               self.batch)

    def _reduce(self, values: list[float]) -> float:
        return max(values) if self.metric == "peak_bytes" else sum(values)

    def cost(self, spec: ArchSpec) -> float:
        return float(self._reduce([row[self.metric] for row in self._rows(spec)]))

    def _slot_costs(self, space: SearchSpace, sizes: dict[str, int]):
        def costs(slot: Slot, width: Any) -> list[float]:
            out = []
            for name in slot.candidates:
                block = space.block_for(slot, {slot.op_label: name, slot.width_label: width})
                bc = block_cost(resolve_block(block, slot.in_ch, space.act, space.se_mode), sizes[slot.label])
                if self.metric == "peak_bytes":
                    out.append(max(bc.live) * self.dtype_bytes * self.batch)
                else:
                    out.append(sum(getattr(op, self.metric) for op in bc.ops))
            return out
        return costs

    def expected(self, space: SearchSpace, op_probs: Mapping[str, Any], depth_probs: Mapping[str, Any] | None = None,
                 widths: Mapping[str, Any] | None = None) -> Any:
        """Expected cost: per-slot candidate costs weighted by their probabilities (see :mod:`~.penalty`)."""
        g = space.geometry
        for field, mine, theirs in (("input_size", self.input_size, g.input_size),
                                    ("in_channels", self.in_channels, g.in_channels),
                                    ("num_classes", self.num_classes, g.num_classes)):
            if mine != theirs:
                raise ValueError(f"{self.metric} cost model is for {field}={mine}, but space {space.name!r} has "
                                 f"{field}={theirs}")
        layout = space_layout(space)
        rows = self._rows(space.to_spec(space.heaviest()))
        fixed = self._reduce([rows[i][self.metric] for i in layout.fixed])
        return expected_cost(space, self._slot_costs(space, layout.slot_sizes), fixed, op_probs, depth_probs,
                             widths, reduce="max" if self.metric == "peak_bytes" else "sum")


MICRONET_REFERENCES = {  # track: (params, operations, MAC -> operations)
    "imagenet": (6.9e6, 1170e6, 2.0),
    "cifar100": (36.5e6, 10.49e9, 2.0),
    "spos": (3.4e6, 328e6, 1.0),
}


def micronet_score(params: float, macs: float, track: str = "imagenet", bits: int = 32) -> float:
    """The normalised MicroNet score of a network with ``params`` parameters and ``macs`` MACs at ``bits``."""
    if track not in MICRONET_REFERENCES:
        raise ValueError(f"unknown MicroNet track {track!r}; valid: {', '.join(MICRONET_REFERENCES)}")
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 32:
        raise ValueError(f"bits must be in 1..32, got {bits}")
    ref_params, ref_ops, ops_per_mac = MICRONET_REFERENCES[track]
    scale = bits / 32
    return params * scale / ref_params + macs * ops_per_mac * scale / ref_ops


@dataclass(frozen=True)
class MicroNetCost:
    """The MicroNet score (:func:`micronet_score`) as a cost model. It is linear in params and MACs, so its
    expectation and its per-slot decomposition are theirs, weighted: any method can take it as a budget."""

    input_size: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    track: str = "imagenet"
    bits: int = 32
    name = "micronet"
    units = "score"

    def __post_init__(self) -> None:
        micronet_score(0.0, 0.0, self.track, self.bits)  # validates track and bits

    @classmethod
    def for_space(cls, space: SearchSpace, track: str = "imagenet", bits: int = 32) -> MicroNetCost:
        g = space.geometry
        return cls(g.input_size, g.in_channels, g.num_classes, track, bits)

    @property
    def description(self) -> str:
        return f"MicroNet score ({self.track} reference, {self.bits}-bit, {self.input_size} px)"

    def _parts(self) -> tuple[AnalyticCost, AnalyticCost]:
        g = (self.input_size, self.in_channels, self.num_classes)
        return AnalyticCost("params", *g), AnalyticCost("macs", *g)

    def cost(self, spec: ArchSpec) -> float:
        params, macs = self._parts()
        return micronet_score(params.cost(spec), macs.cost(spec), self.track, self.bits)

    def expected(self, space: SearchSpace, op_probs: Mapping[str, Any], depth_probs: Mapping[str, Any] | None = None,
                 widths: Mapping[str, Any] | None = None) -> Any:
        params, macs = self._parts()
        return micronet_score(params.expected(space, op_probs, depth_probs, widths),
                              macs.expected(space, op_probs, depth_probs, widths), self.track, self.bits)


def macs_cost(**geometry: Any) -> AnalyticCost:
    return AnalyticCost("macs", **geometry)


def params_cost(**geometry: Any) -> AnalyticCost:
    return AnalyticCost("params", **geometry)


def peak_memory_cost(**geometry: Any) -> AnalyticCost:
    return AnalyticCost("peak_bytes", **geometry)


@dataclass(frozen=True)
class Constraint:
    """``cost_model.cost(spec) <= limit``: a hard budget on any cost (latency in ms, MACs, params, bytes)."""

    cost_model: CostModel
    limit: float

    def __post_init__(self) -> None:
        if not isinstance(self.cost_model, CostModel):
            raise ValueError(f"{type(self.cost_model).__name__} is not a cost model (needs name, units, cost, "
                             "expected)")
        if isinstance(self.limit, bool) or not isinstance(self.limit, (int, float)) or not (
                math.isfinite(self.limit) and self.limit > 0):
            raise ValueError(f"a {self.cost_model.name} limit must be a positive finite number, got {self.limit!r}")

    def value(self, spec: ArchSpec) -> float:
        return self.cost_model.cost(spec)

    def satisfied(self, spec: ArchSpec) -> bool:
        return self.value(spec) <= self.limit

    def margin(self, spec: ArchSpec) -> float:
        """``limit - cost``: positive while the budget holds, in the cost's units."""
        return self.limit - self.value(spec)

    @property
    def description(self) -> str:
        model = self.cost_model
        return f"{model.name} <= {self.limit:g} {model.units} [{getattr(model, 'description', model.name)}]"

    def __str__(self) -> str:
        return self.description

"""Cost models of an architecture: analytic counts, latency measurement, latency tables (no torch at import).

* :mod:`~hwnas.cost.counting`: analytic parameter, MAC and peak-memory counts;
* :mod:`~hwnas.cost.backends` and :mod:`~hwnas.cost.measure`: timing on ONNX Runtime, PyTorch CPU or CUDA
  (:func:`time_models` is the one timing function);
* :mod:`~hwnas.cost.lut_keys`, :mod:`~hwnas.cost.lut`, :mod:`~hwnas.cost.lut_build`: latency lookup tables;
* :mod:`~hwnas.cost.models`: the :class:`CostModel` interface, analytic cost models and :class:`Constraint`.

``count_with_hooks`` (the module-based cross-check) imports torch, so it is loaded only when first used.
"""

from __future__ import annotations

from typing import Any

from hwnas.cost.counting import (
    BLOCK_COSTS,
    BlockCost,
    ConvOp,
    block_cost,
    count_macs,
    count_params,
    peak_activation_bytes,
    per_layer_costs,
)
from hwnas.cost.lut import LatencyTable, apply_calibration
from hwnas.cost.measure import Timing, measure_specs, time_models
from hwnas.cost.models import AnalyticCost, Constraint, CostModel, macs_cost, params_cost, peak_memory_cost

__all__ = [
    "BLOCK_COSTS", "AnalyticCost", "BlockCost", "Constraint", "ConvOp", "CostModel", "LatencyTable", "Timing",
    "apply_calibration", "block_cost", "count_macs", "count_params", "count_with_hooks", "macs_cost",
    "measure_specs", "params_cost", "peak_activation_bytes", "peak_memory_cost", "per_layer_costs", "time_models",
]


def __getattr__(name: str) -> Any:
    if name == "count_with_hooks":
        from hwnas.cost.hooks import count_with_hooks

        return count_with_hooks
    raise AttributeError(f"module 'hwnas.cost' has no attribute {name!r}")

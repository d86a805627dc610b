"""Cost models of an architecture: analytic counts, latency measurement, latency tables (no torch at import).

* :mod:`~hwnas.cost.counting`: analytic parameter, MAC and peak-memory counts;
* :mod:`~hwnas.cost.lut_keys`: what a latency table times (op keys);
* :mod:`hwnas.cost.latency`: timing backends, latency tables (:class:`LatencyTable`; :func:`time_models` is the
  one timing function), their calibration and validation, and measuring on another device;
* :mod:`~hwnas.cost.models`: the :class:`CostModel` interface, analytic cost models and :class:`Constraint`.

Names are loaded on first use (PEP 562): ``python -m hwnas.cost.latency.runner`` on a device without torch runs this
file first, and must not pull in the rest of hwnas.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "hwnas.cost.counting": ("BLOCK_COSTS", "BlockCost", "ConvOp", "block_cost", "count_macs", "count_params",
                            "peak_activation_bytes", "per_layer_costs"),
    "hwnas.cost.latency.table": ("LatencyTable",),
    "hwnas.cost.latency.calibration_kinds": ("apply_calibration",),
    "hwnas.cost.latency.measure": ("Timing", "measure_specs", "time_models"),
    "hwnas.cost.models": ("AnalyticCost", "Constraint", "CostModel", "macs_cost", "params_cost", "peak_memory_cost"),
    "hwnas.cost.hooks": ("count_with_hooks",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'hwnas.cost' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

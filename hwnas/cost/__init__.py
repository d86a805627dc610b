"""Cost models of an architecture: analytic counts, latency measurement, latency tables (no torch at import).

* :mod:`~hwnas.cost.counting`: analytic parameter, MAC and peak-memory counts;
* :mod:`~hwnas.cost.backends` and :mod:`~hwnas.cost.measure`: timing on ONNX Runtime, PyTorch CPU or CUDA
  (:func:`time_models` is the one timing function);
* :mod:`~hwnas.cost.lut_keys`, :mod:`~hwnas.cost.lut`, :mod:`~hwnas.cost.lut_build`: latency lookup tables;
* :mod:`~hwnas.cost.calibrate`, :mod:`~hwnas.cost.validate`: correcting a table with measured whole networks,
  and checking it on other ones;
* :mod:`~hwnas.cost.bundle` and :mod:`~hwnas.cost.runner`: measuring on another device (ONNX bundles, a runner
  that needs only onnxruntime and numpy, importing its results);
* :mod:`~hwnas.cost.models`: the :class:`CostModel` interface, analytic cost models and :class:`Constraint`.

Names are loaded on first use (PEP 562): ``python -m hwnas.cost.runner`` on a device without torch runs this file
first, and must not pull in the rest of hwnas.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "hwnas.cost.counting": ("BLOCK_COSTS", "BlockCost", "ConvOp", "block_cost", "count_macs", "count_params",
                            "peak_activation_bytes", "per_layer_costs"),
    "hwnas.cost.lut": ("LatencyTable", "apply_calibration"),
    "hwnas.cost.measure": ("Timing", "measure_specs", "time_models"),
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

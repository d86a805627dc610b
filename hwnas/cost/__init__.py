"""Cost models of an architecture: analytic parameter, MAC and peak-memory counts (no torch at import).

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

__all__ = [
    "BLOCK_COSTS", "BlockCost", "ConvOp", "block_cost", "count_macs", "count_params", "count_with_hooks",
    "peak_activation_bytes", "per_layer_costs",
]


def __getattr__(name: str) -> Any:
    if name == "count_with_hooks":
        from hwnas.cost.hooks import count_with_hooks

        return count_with_hooks
    raise AttributeError(f"module 'hwnas.cost' has no attribute {name!r}")

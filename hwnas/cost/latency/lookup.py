"""Looking an op up in a latency table: its own entry, or linear interpolation within its width family.

Elastic widths (TF-NAS mids, SPOS channel scales) have too many values to time each one; ``hwnas lut build`` times
a grid of them per *width family* (the op with its width left open, :mod:`hwnas.cost.lut_keys`) and a table's
``families`` lists that grid as ``[[width, key], ...]``. An op of another width inside the grid takes the linear
interpolation, in the width, between the two nearest grid points; the graph features of a calibration
(:mod:`hwnas.cost.latency.graph_features`) are looked up the same way.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

from hwnas.cost.lut_keys import OpSpec


def family_bracket(op: OpSpec, families: Mapping[str, list]) -> tuple[str, str, float] | None:
    """For an op of elastic width inside its family's grid: the grid keys below and above its width and the
    interpolation weight ``t`` of the upper one; ``None`` otherwise."""
    points = families.get(op.family) if op.family else None
    if not points or not points[0][0] <= op.width <= points[-1][0]:
        return None
    widths = [p[0] for p in points]
    i = min(max(bisect.bisect_right(widths, op.width) - 1, 0), len(points) - 2)
    (w0, k0), (w1, k1) = points[i], points[i + 1]
    return k0, k1, (op.width - w0) / (w1 - w0)


def median_ms(op: OpSpec, entries: Mapping[str, Mapping[str, Any]], families: Mapping[str, list]) -> float | None:
    """Median ms of ``op``: its entry, or the interpolation within its width family; ``None`` when neither
    applies."""
    entry = entries.get(op.key)
    if entry is not None:
        return float(entry["median_ms"])
    bracket = family_bracket(op, families)
    if bracket is None:
        return None
    k0, k1, t = bracket
    return (1 - t) * entries[k0]["median_ms"] + t * entries[k1]["median_ms"]


def feature_lookup(op: OpSpec, features: Mapping[str, Sequence[float]],
                   families: Mapping[str, list]) -> tuple[float, float, float] | None:
    """``(executed nodes, parameters, converted elements)`` of ``op`` from per-key ``features``
    (:mod:`hwnas.cost.latency.graph_features`); an op of elastic width takes its family's nodes and interpolates
    the others (linear in the width) between the grid points. ``None`` when neither applies. Calibrations made
    before conversions were a feature store two values per op: they convert nothing (their coefficient is 0)."""
    if op.key in features:
        return _three(features[op.key])
    bracket = family_bracket(op, families)
    if bracket is None or bracket[0] not in features or bracket[1] not in features:
        return None
    k0, k1, t = bracket
    (n0, p0, c0), (_, p1, c1) = _three(features[k0]), _three(features[k1])
    return n0, (1 - t) * p0 + t * p1, (1 - t) * c0 + t * c1


def _three(values: Sequence[float]) -> tuple[float, float, float]:
    return float(values[0]), float(values[1]), float(values[2]) if len(values) > 2 else 0.0

"""The calibration a latency table stores: one class per kind, chosen by the ``kind`` name in the file.

A table predicts a network as the sum of its ops timed alone (FBNet, Wu et al. 2019, Eq. 2-3); a calibration
fitted on measured whole networks (:mod:`hwnas.cost.latency.calibrate`) corrects that sum. Every kind is the
same affine map of a sum over ops, ``scale * sum_i (lat_i - c_i) + offset_ms``, with a per-op correction ``c_i``
that the kind defines (:meth:`CalibrationKind.op_correction`), so a calibrated table stays a sum over ops: the
expected latency stays differentiable and the search's separable costs hold.

* ``affine``: ``c_i = 0``. Whole networks lose the per-call overhead each op paid when timed alone and gain
  fusion across blocks; to first order both are a scale and an offset.
* ``overhead``: ``c_i`` is op i's measured null-model overhead (``overhead_ms``, by the op's
  :func:`~hwnas.cost.latency.overhead.io_key`).
* ``graph``: like ``overhead``, less ``node_ms`` per executed graph node, ``ms_per_mparam`` per million weights
  and ``ms_per_mconverted`` per million elements converted at the op's boundary
  (:mod:`hwnas.cost.latency.graph_features`), divided by the scale that multiplies them back.
* ``contextual``: like ``graph``, less also a fitted residual ``op_residual_ms`` per op key (what the op costs
  inside networks beyond its prediction).

A new kind is one subclass, registered with :func:`register_kind`; its fitting goes to
:mod:`hwnas.cost.latency.calibration_fit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwnas.cost.latency.lookup import feature_lookup
from hwnas.cost.latency.overhead import io_key
from hwnas.cost.latency.table_format import finite
from hwnas.cost.lut_keys import OpSpec


def apply_calibration(raw: Any, calibration: Mapping[str, Any] | None) -> Any:
    """Corrected latency from the (per-op corrected) LUT sum, ``scale * raw + offset_ms``: a float or a tensor,
    which stays differentiable. ``None``: the raw sum."""
    if calibration is None:
        return raw
    return calibration["scale"] * raw + calibration["offset_ms"]


class CalibrationKind:
    """One kind of stored calibration: which fields it needs (:meth:`check`) and what it subtracts from each op
    before the affine map (:meth:`op_correction`)."""

    name = ""

    def check(self, cal: Mapping[str, Any], where: str) -> None:
        """``ValueError`` naming the first field of ``cal`` this kind needs that is missing or malformed."""
        for field in ("scale", "offset_ms"):
            if not finite(cal.get(field)):
                raise ValueError(f"{where}: calibration {field!r} must be a finite number")

    def op_correction(self, cal: Mapping[str, Any], op: OpSpec, families: Mapping[str, list], where: str) -> float:
        """What is subtracted from ``op``'s table time before the affine map."""
        raise NotImplementedError


_KINDS: dict[str, CalibrationKind] = {}


def register_kind(cls: type[CalibrationKind]) -> type[CalibrationKind]:
    """Make ``cls`` the kind stored as ``cls.name`` (a class decorator)."""
    _KINDS[cls.name] = cls()
    return cls


def kind_names() -> tuple[str, ...]:
    """The names of every registered kind, in registration order (simplest first)."""
    return tuple(_KINDS)


def calibration_kind(name: str) -> CalibrationKind:
    """The kind stored as ``name``."""
    if name not in _KINDS:
        raise ValueError(f"unknown calibration kind {name!r}; valid: {', '.join(_KINDS)}")
    return _KINDS[name]


@register_kind
class Affine(CalibrationKind):
    name = "affine"

    def op_correction(self, cal: Mapping[str, Any], op: OpSpec, families: Mapping[str, list], where: str) -> float:
        return 0.0


@register_kind
class Overhead(CalibrationKind):
    name = "overhead"

    def check(self, cal: Mapping[str, Any], where: str) -> None:
        super().check(cal, where)
        overheads = cal.get("overhead_ms")
        if not (isinstance(overheads, dict) and all(
                isinstance(k, str) and finite(v) and v >= 0 for k, v in overheads.items())):
            raise ValueError(f"{where}: an {cal['kind']!r} calibration needs 'overhead_ms': shape key -> "
                             "non-negative ms")

    def op_correction(self, cal: Mapping[str, Any], op: OpSpec, families: Mapping[str, list], where: str) -> float:
        key = io_key(op)
        if key not in cal["overhead_ms"]:
            raise ValueError(f"{where}: its calibration has no null-model overhead for shape {key} (op "
                             f"{op.key!r}); recalibrate with `hwnas lut calibrate`")
        return float(cal["overhead_ms"][key])


@register_kind
class Graph(Overhead):
    name = "graph"

    def check(self, cal: Mapping[str, Any], where: str) -> None:
        super().check(cal, where)
        for field in ("node_ms", "ms_per_mparam"):
            if not finite(cal.get(field)):
                raise ValueError(f"{where}: calibration {field!r} must be a finite number")
        if not finite(cal.get("ms_per_mconverted", 0.0)):  # absent in calibrations made before it
            raise ValueError(f"{where}: calibration 'ms_per_mconverted' must be a finite number")
        features = cal.get("op_features")
        if not (isinstance(features, dict) and all(
                isinstance(k, str) and isinstance(v, list) and len(v) in (2, 3) and all(
                    isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)
                for k, v in features.items())):
            raise ValueError(f"{where}: a {cal['kind']!r} calibration needs 'op_features': op key -> "
                             "[nodes, params, converted elements]")

    def op_terms(self, cal: Mapping[str, Any], op: OpSpec, families: Mapping[str, list], where: str) -> float:
        """The ms the fit adds for ``op`` besides its scaled table time: its node, weight and conversion terms."""
        nodes, params, converted = op_features(cal, op, families, where)
        return (cal["node_ms"] * nodes + cal["ms_per_mparam"] * params / 1e6
                + cal.get("ms_per_mconverted", 0.0) * converted / 1e6)

    def op_correction(self, cal: Mapping[str, Any], op: OpSpec, families: Mapping[str, list], where: str) -> float:
        null = super().op_correction(cal, op, families, where)
        return null - self.op_terms(cal, op, families, where) / cal["scale"]


@register_kind
class Contextual(Graph):
    name = "contextual"

    def check(self, cal: Mapping[str, Any], where: str) -> None:
        super().check(cal, where)
        residuals = cal.get("op_residual_ms")
        if not (isinstance(residuals, dict) and all(isinstance(k, str) and finite(v) for k, v in residuals.items())):
            raise ValueError(f"{where}: a 'contextual' calibration needs 'op_residual_ms': op key -> ms")

    def op_terms(self, cal: Mapping[str, Any], op: OpSpec, families: Mapping[str, list], where: str) -> float:
        # Ops no fit network had (e.g. interpolated widths) keep no residual.
        return super().op_terms(cal, op, families, where) + float(cal["op_residual_ms"].get(op.key, 0.0))


CALIBRATION_KINDS = kind_names()
"""The built-in kinds, simplest first."""


def op_features(cal: Mapping[str, Any], op: OpSpec, families: Mapping[str, list],
                where: str) -> tuple[float, float, float]:
    """``(executed nodes, parameters, converted elements)`` of ``op`` from a ``graph`` calibration's
    ``op_features`` (:func:`~hwnas.cost.latency.lookup.feature_lookup`)."""
    found = feature_lookup(op, cal.get("op_features") or {}, families)
    if found is None:
        raise ValueError(f"{where}: its graph calibration has no features for op {op.key!r}; recalibrate "
                         "with `hwnas lut calibrate`")
    return found


def check_calibration(calibration: Any, where: str) -> None:
    """``None``, or an object whose ``kind`` is registered and which has every field that kind needs."""
    if calibration is None:
        return
    kinds = kind_names()
    if not isinstance(calibration, dict) or calibration.get("kind") not in kinds:
        raise ValueError(f"{where}: calibration must be null or an object with kind in {kinds}")
    _KINDS[calibration["kind"]].check(calibration, where)

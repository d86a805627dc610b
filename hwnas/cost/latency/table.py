"""Latency lookup tables: per-op times with provenance, prediction by summation, differentiable expected latency.

FBNet (Wu et al. 2019, Eq. 2-3) predicts a network's latency as the sum of its ops' latencies, each measured once
in isolation: ``LAT(a) = sum_l LAT(b_l^(a))``. With per-slot candidate probabilities the sum becomes an
expectation that is differentiable in them (FBNet Eq. 2-3 with Eq. 5-6; TF-NAS, Hu et al. 2020, Sec. 3.4, adds
depth through sink-connecting). :class:`LatencyTable` does both, from a JSON file (never pickle) holding

* ``provenance``: where and how every number was measured (device and CPU model, backend and version, threads,
  batch size, dtype, input size and channels, classes, the space and its options, timing settings);
* ``entries``: op key (:mod:`hwnas.cost.lut_keys`) -> ``{"median_ms", "iqr_ms", "rounds"}``;
* ``families``: width family -> ``[[width, key], ...]`` for elastic widths timed on a grid (linear
  interpolation in the width between the two nearest grid points);
* ``calibration``: ``null``, or a correction fitted on measured whole networks (see :func:`apply_calibration` and
  :mod:`hwnas.cost.latency.calibrate`).

Safety: a file that is not a table, is truncated or has the wrong schema is a ``ValueError`` naming the file;
using a table for another space, input size, backend or batch size is a ``ValueError`` naming the field and both
values (:meth:`LatencyTable.check`, :meth:`LatencyTable.check_space`). Units are milliseconds throughout. torch is
imported only by :meth:`LatencyTable.expected` and :meth:`LatencyTable.measure`.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hwnas.arch.spec import ArchSpec
from hwnas.cost.lut_keys import (
    OpSpec, candidate_op, fixed_ops, parse_key, space_digest, space_layout, spec_ops,
)
from hwnas.cost.latency.overhead import io_key
from hwnas.fileio import write_text_atomic
from hwnas.space.base import SearchSpace

FORMAT = "hwnas-latency-table"
SCHEMA_VERSION = 1
UNITS = "ms"
REQUIRED_PROVENANCE = ("space", "input_size", "in_channels", "num_classes", "backend", "backend_version", "threads",
                       "batch_size", "dtype", "timing", "device")
CHECKABLE = ("space", "space_digest", "width_mult", "input_size", "in_channels", "num_classes", "backend",
             "backend_version", "threads", "batch_size", "dtype")
"""Provenance fields :meth:`LatencyTable.check` compares."""
CALIBRATION_KINDS = ("affine", "overhead", "graph", "contextual")


def apply_calibration(raw: Any, calibration: Mapping[str, Any] | None) -> Any:
    """Corrected latency from the raw LUT sum (a float or a tensor; stays differentiable).

    ``affine``: ``scale * raw + offset_ms``: whole networks lose the per-call overhead each op paid when timed
    alone and gain fusion across blocks; to first order both are a scale and an offset. ``overhead``: the same,
    applied to a sum from which every op's measured null-model overhead (``overhead_ms``, by the op's
    :func:`~hwnas.cost.latency.overhead.io_key`) was subtracted first (:meth:`LatencyTable.predict` does that).
    ``graph``: like ``overhead``, plus ``node_ms`` per executed graph node, ``ms_per_mparam`` per million
    weights and ``ms_per_mconverted`` per million elements converted at the boundary of every op
    (:mod:`hwnas.cost.latency.graph_features`), also folded into each op's correction by
    :meth:`LatencyTable.overhead`, so this stays one affine map of a sum over ops. ``contextual``: like
    ``graph``, plus a fitted residual ``op_residual_ms`` per op key (what the op costs inside networks beyond
    its prediction), folded in the same way.
    """
    if calibration is None:
        return raw
    return calibration["scale"] * raw + calibration["offset_ms"]


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


def feature_lookup(op: OpSpec, features: Mapping[str, Sequence[float]],
                   families: Mapping[str, list]) -> tuple[float, float, float] | None:
    """``(executed nodes, parameters, converted elements)`` of ``op`` from per-key ``features``
    (:mod:`hwnas.cost.latency.graph_features`); an op of elastic width takes its family's nodes and interpolates the
    others (linear in the width) between the grid points. ``None`` when neither applies. Calibrations made
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


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_calibration(calibration: Any, where: str) -> None:
    if calibration is None:
        return
    if not isinstance(calibration, dict) or calibration.get("kind") not in CALIBRATION_KINDS:
        raise ValueError(f"{where}: calibration must be null or an object with kind in {CALIBRATION_KINDS}")
    for field in ("scale", "offset_ms"):
        if not _finite(calibration.get(field)):
            raise ValueError(f"{where}: calibration {field!r} must be a finite number")
    overheads = calibration.get("overhead_ms")
    if calibration["kind"] in ("overhead", "graph", "contextual") and not (isinstance(overheads, dict) and all(
            isinstance(k, str) and _finite(v) and v >= 0 for k, v in overheads.items())):
        raise ValueError(f"{where}: an {calibration['kind']!r} calibration needs 'overhead_ms': shape key -> "
                         "non-negative ms")
    if calibration["kind"] in ("graph", "contextual"):
        for field in ("node_ms", "ms_per_mparam"):
            if not _finite(calibration.get(field)):
                raise ValueError(f"{where}: calibration {field!r} must be a finite number")
        if not _finite(calibration.get("ms_per_mconverted", 0.0)):  # absent in calibrations made before it
            raise ValueError(f"{where}: calibration 'ms_per_mconverted' must be a finite number")
        features = calibration.get("op_features")
        if not (isinstance(features, dict) and all(
                isinstance(k, str) and isinstance(v, list) and len(v) in (2, 3) and all(
                    isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)
                for k, v in features.items())):
            raise ValueError(f"{where}: a {calibration['kind']!r} calibration needs 'op_features': op key -> "
                             "[nodes, params, converted elements]")
    if calibration["kind"] == "contextual":
        residuals = calibration.get("op_residual_ms")
        if not (isinstance(residuals, dict) and all(isinstance(k, str) and _finite(v) for k, v in residuals.items())):
            raise ValueError(f"{where}: a 'contextual' calibration needs 'op_residual_ms': op key -> ms")


def _check_provenance(prov: Any, where: str) -> None:
    if not isinstance(prov, dict):
        raise ValueError(f"{where}: 'provenance' must be an object")
    missing = [f for f in REQUIRED_PROVENANCE if f not in prov]
    if missing:
        raise ValueError(f"{where}: provenance lacks {', '.join(missing)}")
    for field in ("timing", "device"):
        if not isinstance(prov[field], dict):
            raise ValueError(f"{where}: provenance {field!r} must be an object")
    for field in ("input_size", "in_channels", "num_classes", "threads", "batch_size"):
        value = prov[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}: provenance {field!r} must be a positive integer, got {value!r}")


def _check_entries(entries: Any, where: str) -> None:
    if not isinstance(entries, dict):
        raise ValueError(f"{where}: 'entries' must be an object of op key -> timing")
    for key, entry in entries.items():
        parse_key(key)
        if not isinstance(entry, dict) or not all(_finite(entry.get(f)) and entry[f] >= 0
                                                  for f in ("median_ms", "iqr_ms")):
            raise ValueError(f"{where}: entry {key!r} needs non-negative finite 'median_ms' and 'iqr_ms'")


def _check_families(families: Any, entries: dict, complete: bool, where: str) -> None:
    if not isinstance(families, dict):
        raise ValueError(f"{where}: 'families' must be an object")
    for family, points in families.items():
        ok = isinstance(points, list) and len(points) >= 2 and all(
            isinstance(p, list) and len(p) == 2 and _finite(p[0]) and isinstance(p[1], str) for p in points)
        if not ok or [p[0] for p in points] != sorted({p[0] for p in points}):
            raise ValueError(f"{where}: family {family!r} must list 2+ [width, key] pairs by increasing width")
        missing = [p[1] for p in points if p[1] not in entries]
        if complete and missing:
            raise ValueError(f"{where}: family {family!r} refers to op {missing[0]!r}, which has no entry")


def _dumps(data: dict[str, Any]) -> str:
    """JSON with one line per entry and per family: a thousand-op table stays readable and diffable."""
    parts = []
    for key, value in data.items():
        if key in ("entries", "families") and value:
            inner = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            parts.append(f" {json.dumps(key)}: {{\n{inner}\n }}")
        else:
            parts.append(f" {json.dumps(key)}: " + json.dumps(value, indent=1).replace("\n", "\n "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


class LatencyTable:
    """A measured latency table; a :class:`hwnas.cost.models.CostModel` with ``name="latency"``, units ms."""

    name = "latency"
    units = UNITS

    def __init__(self, provenance: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]],
                 families: Mapping[str, list] | None = None, calibration: Mapping[str, Any] | None = None,
                 complete: bool = True, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        where = self.where
        self.provenance = dict(provenance)
        self.entries = {k: dict(v) for k, v in entries.items()}
        self.families = {k: [list(p) for p in v] for k, v in (families or {}).items()}
        self.complete = bool(complete)
        _check_provenance(self.provenance, where)
        _check_entries(self.entries, where)
        _check_families(self.families, self.entries, self.complete, where)
        self.calibration = calibration
        self._space: SearchSpace | None = None
        self._slot_cache: dict[tuple[str, Any], list[float]] = {}
        self._sizes: dict[str, int] = {}
        self._fixed_ms = self._fixed_overhead = 0.0

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The correction :meth:`predict` and :meth:`expected` apply (``None``: raw LUT sums)."""
        return self._calibration

    @calibration.setter
    def calibration(self, value: Mapping[str, Any] | None) -> None:
        check_calibration(value, self.where)
        self._calibration = dict(value) if value is not None else None
        self._space = None  # the per-slot caches may hold overhead-corrected times: rebuild them

    @property
    def where(self) -> str:
        return f"latency table {self.path}" if self.path else "latency table"

    # ------------------------------------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "units": UNITS, "complete": self.complete,
                "provenance": self.provenance, "calibration": self.calibration, "entries": self.entries,
                "families": self.families}

    @classmethod
    def from_dict(cls, data: Any, path: str | Path | None = None) -> LatencyTable:
        where = f"latency table {path}" if path else "latency table"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{where} is not an hwnas latency table (format {FORMAT!r} expected)")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"{where} has schema version {data.get('schema_version')!r}; this hwnas reads "
                             f"version {SCHEMA_VERSION} (rebuild it with `hwnas lut build`)")
        if data.get("units") != UNITS:
            raise ValueError(f"{where} is in units {data.get('units')!r}; hwnas tables are in {UNITS!r}")
        if not isinstance(data.get("complete"), bool):
            raise ValueError(f"{where}: 'complete' must be true or false")
        families, calibration = data.get("families", {}), data.get("calibration")
        shapes = {"provenance": isinstance(data.get("provenance"), dict),
                  "entries": isinstance(data.get("entries"), dict)
                  and all(isinstance(v, dict) for v in data["entries"].values()),
                  "families": isinstance(families, dict) and all(isinstance(v, list) for v in families.values()),
                  "calibration": calibration is None or isinstance(calibration, dict)}
        bad = [k for k, ok in shapes.items() if not ok]
        if bad:
            raise ValueError(f"{where} is malformed: {', '.join(repr(k) for k in bad)} do not have the table's "
                             "structure (rebuild it with `hwnas lut build`)")
        try:
            return cls(data["provenance"], data["entries"], families, calibration, data["complete"], path)
        except (KeyError, TypeError, AttributeError, IndexError) as e:  # a field of the wrong kind deeper down
            raise ValueError(f"{where} is malformed ({type(e).__name__}: {e}); rebuild it with `hwnas lut build`") \
                from None

    @classmethod
    def load(cls, path: str | Path, **expect: Any) -> LatencyTable:
        """Read a table; ``expect`` (e.g. ``backend="onnxruntime", batch_size=1``) is passed to :meth:`check`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"latency table {path} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"latency table {path} is corrupt or truncated (not valid JSON: {e})") from None
        table = cls.from_dict(data, path)
        table.check(**expect)
        return table

    def save(self, path: str | Path | None = None) -> Path:
        """Write the table atomically (a reader never sees half a file); returns the path."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save() needs a path for a table that was not loaded from a file")
        write_text_atomic(target, _dumps(self.to_dict()))
        self.path = target
        return target

    # ------------------------------------------------------------------------------------------------ safety
    def check(self, **expected: Any) -> None:
        """``ValueError`` naming the first provenance field (of :data:`CHECKABLE`) whose value differs."""
        for field, want in expected.items():
            if field not in CHECKABLE:
                raise ValueError(f"unknown provenance field {field!r}; checkable: {', '.join(CHECKABLE)}")
            have = self.provenance.get(field)
            if want is not None and have != want:
                raise ValueError(f"{self.where} was built for {field}={have!r}, but {field}={want!r} was asked "
                                 f"for; build a table for these settings with `hwnas lut build`")

    def check_space(self, space: SearchSpace) -> None:
        """The table must have been built for this space, at this geometry, as the space is defined now."""
        g = space.geometry
        self.check(space=space.name, input_size=g.input_size, in_channels=g.in_channels, num_classes=g.num_classes,
                   width_mult=g.width_mult, space_digest=space_digest(space))

    def _require_complete(self) -> None:
        if not self.complete:
            raise ValueError(f"{self.where} is incomplete ({len(self.entries)} ops so far): rerun the same "
                             "`hwnas lut build` command to finish it")

    # ------------------------------------------------------------------------------------------------ predict
    def lookup(self, op: OpSpec) -> float:
        """Median ms of one op: its entry, or linear interpolation within its width family."""
        entry = self.entries.get(op.key)
        if entry is not None:
            return float(entry["median_ms"])
        bracket = family_bracket(op, self.families)
        if bracket is not None:
            k0, k1, t = bracket
            return (1 - t) * self.entries[k0]["median_ms"] + t * self.entries[k1]["median_ms"]
        space = self.provenance.get("space") or "the given networks"
        raise ValueError(f"{self.where} has no entry for op {op.key!r} (it was built for {space} at "
                         f"{self.provenance['input_size']} px); build one that covers it, e.g. `hwnas lut build "
                         "--arch ARCH`")

    def spec_ops(self, spec: ArchSpec) -> list[OpSpec]:
        p = self.provenance
        return spec_ops(spec, p["input_size"], p["in_channels"], p["num_classes"])

    def breakdown(self, spec: ArchSpec) -> list[tuple[str, float]]:
        """(op key, ms) of every op of ``spec`` in execution order (uncalibrated)."""
        self._require_complete()
        return [(op.key, self.lookup(op)) for op in self.spec_ops(spec)]

    def overhead(self, op: OpSpec) -> float:
        """What the calibration subtracts from ``op``'s time before its affine map: 0 for ``affine``; the op's
        null-model overhead for ``overhead``; for ``graph`` also less its node and weight terms (divided by the
        scale, which multiplies them back); for ``contextual`` also less the op's fitted in-network residual."""
        cal = self.calibration
        if cal is None or cal["kind"] == "affine":
            return 0.0
        key = io_key(op)
        if key not in cal["overhead_ms"]:
            raise ValueError(f"{self.where}: its calibration has no null-model overhead for shape {key} (op "
                             f"{op.key!r}); recalibrate with `hwnas lut calibrate`")
        null = float(cal["overhead_ms"][key])
        if cal["kind"] == "overhead":
            return null
        nodes, params, converted = self.op_features(op)
        terms = (cal["node_ms"] * nodes + cal["ms_per_mparam"] * params / 1e6
                 + cal.get("ms_per_mconverted", 0.0) * converted / 1e6)
        if cal["kind"] == "contextual":  # ops no fit network had (e.g. interpolated widths) keep no residual
            terms += float(cal["op_residual_ms"].get(op.key, 0.0))
        return null - terms / cal["scale"]

    def op_features(self, op: OpSpec) -> tuple[float, float, float]:
        """``(executed nodes, parameters, converted elements)`` of ``op`` from a ``graph`` calibration
        (:func:`feature_lookup`)."""
        found = feature_lookup(op, (self.calibration or {}).get("op_features") or {}, self.families)
        if found is None:
            raise ValueError(f"{self.where}: its graph calibration has no features for op {op.key!r}; recalibrate "
                             "with `hwnas lut calibrate`")
        return found

    def predict(self, spec: ArchSpec, calibrated: bool = True) -> float:
        """Predicted latency of ``spec`` in ms: the sum over its ops (FBNet Eq. 2-3), then the calibration."""
        raw = sum(ms for _, ms in self.breakdown(spec))
        if not calibrated or self.calibration is None:
            return raw
        return apply_calibration(raw - sum(self.overhead(op) for op in self.spec_ops(spec)), self.calibration)

    def op_latencies(self, spec: ArchSpec) -> tuple[list[tuple[str, float]], float]:
        """Per-op contributions to :meth:`predict` (op key, ms, in execution order) and the constant left over
        (the calibration's offset): they sum to the prediction. Uncalibrated: the raw entries and 0."""
        cal = self.calibration
        rows = self.breakdown(spec)
        if cal is None:
            return rows, 0.0
        ops = self.spec_ops(spec)
        return ([(key, cal["scale"] * (ms - self.overhead(op))) for (key, ms), op in zip(rows, ops)],
                float(cal["offset_ms"]))

    def cost(self, spec: ArchSpec) -> float:
        return self.predict(spec)

    # ------------------------------------------------------------------------------------------------ expected
    def _bind(self, space: SearchSpace) -> None:
        """Check ``space`` against the provenance once and cache its fixed part; per-slot costs cache lazily."""
        if space is self._space:
            return
        self._require_complete()
        self.check_space(space)
        fixed = fixed_ops(space)
        self._fixed_ms = sum(self.lookup(op) for op in fixed)
        self._fixed_overhead = sum(self.overhead(op) for op in fixed)
        self._sizes = space_layout(space).slot_sizes
        self._slot_cache = {}
        self._space = space

    def slot_latencies(self, space: SearchSpace, slot: Any, width: Any, corrected: bool = False) -> list[float]:
        """Median ms of every candidate of ``slot`` at ``width``, in candidate order (``corrected``: less the
        calibration's per-op overhead)."""
        self._bind(space)
        key = (slot.label, width, corrected)
        if key not in self._slot_cache:
            size = self._sizes[slot.label]
            ops = [candidate_op(space, slot, name, width, size) for name in slot.candidates]
            self._slot_cache[key] = [self.lookup(op) - (self.overhead(op) if corrected else 0.0) for op in ops]
        return self._slot_cache[key]

    def expected(self, space: SearchSpace, op_probs: Mapping[str, Any], depth_probs: Mapping[str, Any] | None = None,
                 widths: Mapping[str, Any] | None = None, calibrated: bool = True):
        """Expected latency (ms, 0-d tensor) under per-slot candidate and per-stage depth probabilities.

        FBNet Eq. 2-3 in expectation; depth by TF-NAS sink-connecting (see :mod:`hwnas.cost.penalty`).
        Equals :meth:`predict` for one-hot probabilities; gradients reach every probability.
        """
        from hwnas.cost.penalty import expected_cost

        self._bind(space)
        corrected = calibrated and self.calibration is not None
        fixed = self._fixed_ms - (self._fixed_overhead if corrected else 0.0)
        raw = expected_cost(space, lambda slot, w: self.slot_latencies(space, slot, w, corrected), fixed, op_probs,
                            depth_probs, widths)
        return apply_calibration(raw, self.calibration) if corrected else raw

    # ------------------------------------------------------------------------------------------------ measure
    def measure(self, specs: Sequence[ArchSpec], warmup: int | None = None, rounds: int | None = None,
                order: str = "interleaved") -> list:
        """Time whole networks exactly as the table's ops were timed (its backend, threads, batch, geometry);
        ``order="alone"`` times each on its own, as it runs deployed
        (:func:`hwnas.cost.latency.measure.time_models`)."""
        from hwnas.cost.latency.measure import DEFAULT_ROUNDS, DEFAULT_WARMUP, measure_specs

        p, timing = self.provenance, self.provenance["timing"]
        if p.get("source") == "imported":  # timing here would compare this CPU with the device's table
            raise ValueError(f"{self.where} was measured on another device ({p['device'].get('cpu_model')}); time "
                             "networks there: `hwnas lut export-nets`, the runner, then --imported-results")
        warmup = timing.get("warmup", DEFAULT_WARMUP) if warmup is None else warmup
        rounds = timing.get("rounds", DEFAULT_ROUNDS) if rounds is None else rounds
        return measure_specs(specs, p["input_size"], p["in_channels"], p["num_classes"], p["backend"], p["threads"],
                             p["batch_size"], warmup, rounds, order=order)

    @property
    def description(self) -> str:
        p = self.provenance
        what = p["space"] or "given networks"
        return (f"latency ({p['backend']} {p['backend_version']}, {p['threads']} thread(s), batch {p['batch_size']}, "
                f"{what} at {p['input_size']} px{', calibrated' if self.calibration else ''})")

    def __repr__(self) -> str:
        return f"LatencyTable({len(self.entries)} ops, {self.description})"

"""Latency lookup tables: per-op times with provenance, prediction by summation, differentiable expected latency.

FBNet (Wu et al. 2019, Eq. 2-3) predicts a network's latency as the sum of its ops' latencies, each measured once
in isolation: ``LAT(a) = sum_l LAT(b_l^(a))``. With per-slot candidate probabilities the sum becomes an
expectation that is differentiable in them (FBNet Eq. 2-3 with Eq. 5-6; TF-NAS, Hu et al. 2020, Sec. 3.4, adds
depth through sink-connecting). :class:`LatencyTable` does both; it is the public face of four parts:

* the file (:mod:`hwnas.cost.latency.table_format`): JSON with provenance, entries, width families and a
  calibration, validated on load, written atomically (never pickle);
* lookup (:mod:`hwnas.cost.latency.lookup`): an op's entry, or interpolation within its width family;
* the calibration (:mod:`hwnas.cost.latency.calibration_kinds`): a correction fitted on measured whole networks,
  one class per kind;
* the space it is bound to (:mod:`hwnas.cost.latency.bound_space`): per-slot times cached for the expected cost.

Safety: a file that is not a table, is truncated or has the wrong schema is a ``ValueError`` naming the file;
using a table for another space, input size, backend or batch size is a ``ValueError`` naming the field and both
values (:meth:`LatencyTable.check`, :meth:`LatencyTable.check_space`). Units are milliseconds throughout. torch is
imported only by :meth:`LatencyTable.expected` and :meth:`LatencyTable.measure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hwnas.arch.spec import ArchSpec
from hwnas.cost.latency import table_format
from hwnas.cost.latency.bound_space import BoundSpace
from hwnas.cost.latency.calibration_kinds import apply_calibration, calibration_kind, check_calibration, op_features
from hwnas.cost.latency.lookup import median_ms
from hwnas.cost.lut_keys import OpSpec, space_digest, spec_ops
from hwnas.space.base import SearchSpace


class LatencyTable:
    """A measured latency table; a :class:`hwnas.cost.models.CostModel` with ``name="latency"``, units ms."""

    name = "latency"
    units = table_format.UNITS

    def __init__(self, provenance: Mapping[str, Any], entries: Mapping[str, Mapping[str, Any]],
                 families: Mapping[str, list] | None = None, calibration: Mapping[str, Any] | None = None,
                 complete: bool = True, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        where = self.where
        self.provenance = dict(provenance)
        self.entries = {k: dict(v) for k, v in entries.items()}
        self.families = {k: [list(p) for p in v] for k, v in (families or {}).items()}
        self.complete = bool(complete)
        table_format.check_provenance(self.provenance, where)
        table_format.check_entries(self.entries, where)
        table_format.check_families(self.families, self.entries, self.complete, where)
        self.calibration = calibration

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The correction :meth:`predict` and :meth:`expected` apply (``None``: raw LUT sums)."""
        return self._calibration

    @calibration.setter
    def calibration(self, value: Mapping[str, Any] | None) -> None:
        check_calibration(value, self.where)
        self._calibration = dict(value) if value is not None else None
        self._bound: BoundSpace | None = None  # it may hold corrected times of the old calibration: rebuild it

    @property
    def where(self) -> str:
        return f"latency table {self.path}" if self.path else "latency table"

    # ------------------------------------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return table_format.document(self.provenance, self.entries, self.families, self.calibration, self.complete)

    @classmethod
    def from_dict(cls, data: Any, path: str | Path | None = None) -> LatencyTable:
        where = f"latency table {path}" if path else "latency table"
        table_format.check_document(data, where)
        try:
            return cls(data["provenance"], data["entries"], data.get("families", {}), data.get("calibration"),
                       data["complete"], path)
        except (KeyError, TypeError, AttributeError, IndexError) as e:  # a field of the wrong kind deeper down
            raise ValueError(f"{where} is malformed ({type(e).__name__}: {e}); rebuild it with `hwnas lut build`") \
                from None

    @classmethod
    def load(cls, path: str | Path, **expect: Any) -> LatencyTable:
        """Read a table; ``expect`` (e.g. ``backend="onnxruntime", batch_size=1``) is passed to :meth:`check`."""
        path = Path(path)
        table = cls.from_dict(table_format.read(path), path)
        table.check(**expect)
        return table

    def save(self, path: str | Path | None = None) -> Path:
        """Write the table atomically (a reader never sees half a file); returns the path."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("save() needs a path for a table that was not loaded from a file")
        table_format.write(target, self.to_dict())
        self.path = target
        return target

    # ------------------------------------------------------------------------------------------------ safety
    def check(self, **expected: Any) -> None:
        """``ValueError`` naming the first provenance field (of
        :data:`~hwnas.cost.latency.table_format.CHECKABLE`) whose value differs."""
        table_format.check_expected(self.provenance, self.where, **expected)

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
        found = median_ms(op, self.entries, self.families)
        if found is not None:
            return found
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
        """What the calibration subtracts from ``op``'s time before its affine map (0 without one; see
        :meth:`~hwnas.cost.latency.calibration_kinds.CalibrationKind.op_correction` of each kind)."""
        cal = self.calibration
        if cal is None:
            return 0.0
        return calibration_kind(cal["kind"]).op_correction(cal, op, self.families, self.where)

    def op_features(self, op: OpSpec) -> tuple[float, float, float]:
        """``(executed nodes, parameters, converted elements)`` of ``op`` from a ``graph`` calibration."""
        return op_features(self.calibration or {}, op, self.families, self.where)

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
    def _bind(self, space: SearchSpace) -> BoundSpace:
        """The cache for ``space``, checked against the provenance once (and again after a recalibration)."""
        if self._bound is None or self._bound.space is not space:
            self._require_complete()
            self.check_space(space)
            self._bound = BoundSpace(space, self.lookup, self.overhead)
        return self._bound

    def slot_latencies(self, space: SearchSpace, slot: Any, width: Any, corrected: bool = False) -> list[float]:
        """Median ms of every candidate of ``slot`` at ``width``, in candidate order (``corrected``: less the
        calibration's per-op overhead)."""
        return self._bind(space).slot_latencies(slot, width, corrected)

    def expected(self, space: SearchSpace, op_probs: Mapping[str, Any], depth_probs: Mapping[str, Any] | None = None,
                 widths: Mapping[str, Any] | None = None, calibrated: bool = True):
        """Expected latency (ms, 0-d tensor) under per-slot candidate and per-stage depth probabilities.

        FBNet Eq. 2-3 in expectation; depth by TF-NAS sink-connecting (see :mod:`hwnas.cost.penalty`).
        Equals :meth:`predict` for one-hot probabilities; gradients reach every probability.
        """
        from hwnas.cost.penalty import expected_cost

        bound = self._bind(space)
        corrected = calibrated and self.calibration is not None
        fixed = bound.fixed_ms - (bound.fixed_correction if corrected else 0.0)
        raw = expected_cost(space, lambda slot, w: bound.slot_latencies(slot, w, corrected), fixed, op_probs,
                            depth_probs, widths)
        return apply_calibration(raw, self.calibration) if corrected else raw

    # ------------------------------------------------------------------------------------------------ measure
    def measure(self, specs: Sequence[ArchSpec], warmup: int | None = None, rounds: int | None = None,
                order: str = "interleaved", passes: int | None = None) -> list:
        """Time whole networks exactly as the table's ops were timed (its backend, threads, batch, geometry);
        ``order="alone"`` times each on its own, as it runs deployed
        (:func:`hwnas.cost.latency.measure.measure_as_tabled`)."""
        from hwnas.cost.latency.measure import measure_as_tabled

        return measure_as_tabled(self.provenance, specs, warmup, rounds, order, self.where, passes)

    @property
    def uncalibrated_warning(self) -> str | None:
        """One line to warn a user who predicts with a table that has no calibration (None when it has one)."""
        if self.calibration is not None:
            return None
        name = self.path or "the table"
        return (f"warning: {self.where} is not calibrated: its predictions are raw sums of ops timed alone, 20-45 % "
                f"off whole networks; calibrate it with `hwnas lut calibrate --lut {name}`")

    @property
    def description(self) -> str:
        p = self.provenance
        what = p["space"] or "given networks"
        return (f"latency ({p['backend']} {p['backend_version']}, {p['threads']} thread(s), batch {p['batch_size']}, "
                f"{what} at {p['input_size']} px{', calibrated' if self.calibration else ''})")

    def __repr__(self) -> str:
        return f"LatencyTable({len(self.entries)} ops, {self.description})"

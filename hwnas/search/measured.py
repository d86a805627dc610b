"""Drift-aware repeated measurement of a deployed network: the number the measured closed loop decides on.

Why: these shared 2-core machines drift by 10-25 % within the hour (docs/DESIGN.md), and one median over the
rounds of one timing says what the machine was doing in those few seconds. In one ``hwnas run`` a briefly busy
machine timed the first winner at 0.311 ms (predicted 0.221, budget 0.229); the loop tightened the budget by that
whole excess and the result ended at a third of its budget (issue 19). So a network is timed here in several
*passes*, and in every pass a few *drift references* (fixed networks of the same space) are timed too, each on its
own as it runs deployed (warm-up, then its rounds; never interleaved, which would measure the neighbours' cache
evictions instead). A pass's drift factor is how much slower the references ran than at their baseline; the
network's median of that pass is divided by it. The median over passes of these corrected times is
:attr:`Measurement.ms`; their spread is the noise band inside which an excess over a budget is not yet evidence
(:func:`hwnas.search.closed_loop.search_within_measured` takes such a measurement again before it acts on it).

:class:`DeployedTimer` does the timing and keeps a log of every measurement for the reports;
:func:`~hwnas.cost.latency.drift.drift_references` picks the default references of a space; a calibrated table
keeps them with their times at calibration (:func:`~hwnas.cost.latency.drift.table_references`), and a timer
made with :meth:`DeployedTimer.from_table` corrects every measurement to those: the units of the predictions.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.cost.latency.drift import drift_references

__all__ = ["MIN_PASSES", "NOISE_FLOOR", "DeployedTimer", "Measurement", "deployed_model", "drift_references"]

MIN_PASSES = 3
"""Passes a decision needs: with fewer, one slow pass is the median (or half of it); with three, one slow pass is
outvoted. The closed loop measures again before it acts on an excess found with fewer."""

NOISE_FLOOR = 0.02
"""The least relative noise a measurement claims: timings of one network alone scatter by about 2 % from pass to
pass even on a quiet machine, and three passes that happen to agree closely do not prove a tighter band."""


@dataclass(frozen=True)
class Measurement:
    """One drift-corrected, repeated measurement of a network (times in ms).

    ``passes_ms``: the network's median of each pass; ``drift_passes``: each pass's drift factor (1.0 for every
    pass when there are no references); ``ms``: the median over passes of ``passes_ms[i] / drift_passes[i]``, the
    value decisions use; ``raw_ms``: the median over passes, uncorrected; ``drift``: the median drift factor;
    ``noise``: the relative half-width of the noise band, half the relative range of the corrected passes, at least
    :data:`NOISE_FLOOR` (0 for a bare number of unknown spread, :meth:`of`).
    """

    ms: float
    raw_ms: float
    passes_ms: tuple[float, ...]
    drift: float
    drift_passes: tuple[float, ...]
    noise: float

    @classmethod
    def from_passes(cls, passes_ms: Sequence[float], drift_passes: Sequence[float] | None = None) -> Measurement:
        """The measurement of per-pass medians ``passes_ms`` with per-pass drift factors (default all 1.0)."""
        passes = tuple(float(p) for p in passes_ms)
        drift = tuple(float(d) for d in drift_passes) if drift_passes is not None else (1.0,) * len(passes)
        if not passes:
            raise ValueError("a measurement needs at least one pass")
        if len(drift) != len(passes):
            raise ValueError(f"{len(drift)} drift factors for {len(passes)} passes")
        if min(passes) <= 0 or min(drift) <= 0:
            raise ValueError(f"times and drift factors must be > 0, got {passes} and {drift}")
        corrected = [p / d for p, d in zip(passes, drift)]
        ms = statistics.median(corrected)
        noise = max(NOISE_FLOOR, (max(corrected) - min(corrected)) / ms / 2)
        return cls(ms, statistics.median(passes), passes, statistics.median(drift), drift, noise)

    @classmethod
    def of(cls, value: Measurement | float) -> Measurement:
        """``value`` as a measurement: a bare number (a caller's own timing) is one pass with no known noise."""
        if isinstance(value, Measurement):
            return value
        ms = float(value)
        return cls(ms, ms, (ms,), 1.0, (1.0,), 0.0)

    @property
    def passes(self) -> int:
        return len(self.passes_ms)

    def pooled(self, other: Measurement) -> Measurement:
        """This measurement and ``other`` as one: every pass of both, each with its own drift factor."""
        return Measurement.from_passes(self.passes_ms + other.passes_ms, self.drift_passes + other.drift_passes)

    def over(self, limit: float) -> bool:
        """Whether the value decisions use is over ``limit``."""
        return self.ms > limit

    def confirmed_over(self, limit: float, min_passes: int = MIN_PASSES) -> bool:
        """Whether the excess over ``limit`` is evidence: at least ``min_passes`` passes, and beyond the noise
        band (``ms > limit * (1 + noise)``)."""
        return self.passes >= min_passes and self.ms > limit * (1 + self.noise)

    def to_json(self) -> dict[str, Any]:
        return {"ms": self.ms, "raw_ms": self.raw_ms, "passes": self.passes, "passes_ms": list(self.passes_ms),
                "drift": self.drift, "drift_passes": list(self.drift_passes), "noise": self.noise}


def measured_twice_if_over(measure: Any, limit: float | None) -> tuple[Measurement, bool]:
    """``measure()``, and when that is over ``limit`` a second ``measure()`` pooled with the first: no verdict on
    one measurement (the run's final measurement; the search-quality benchmark applies the same rule to its
    pooled measurements, ``benchmarks/quality_measure.py``). Returns it and whether it was taken again."""
    first = measure()
    if limit is None or not first.over(limit):
        return first, False
    return first.pooled(measure()), True


def deployed_model(arch: str, geometry: Mapping[str, int], backend: str, onnx_path: str | Path) -> Any:
    """What a backend times for ``arch`` as it runs deployed, freshly initialised (latency does not depend on the
    weights): the deployment export (:func:`hwnas.workflows.export.export_model`, BN folded) written to
    ``onnx_path`` for a backend that times exported ONNX files, else what the backend deploys
    (:meth:`~hwnas.cost.latency.backends.Backend.deployed`: the int8 backend's quantized deployment export, also
    written to ``onnx_path``; the module itself for ``torch`` and ``cuda``)."""
    from hwnas.arch import decode
    from hwnas.cost.latency.backends import backend_class
    from hwnas.nn import build_model
    from hwnas.workflows.export import export_model

    spec = decode(arch)
    size, channels = geometry["input_size"], geometry["in_channels"]
    model: Any = build_model(spec, geometry["num_classes"], channels).eval()
    if not backend_class(backend).times_exported_onnx:
        return backend_class(backend).deployed(model, Path(onnx_path), (1, channels, size, size))
    Path(onnx_path).parent.mkdir(parents=True, exist_ok=True)
    export_model(model, spec, Path(onnx_path), "onnx", size, channels)
    return Path(onnx_path)


class DeployedTimer:
    """Times deployed networks in ``passes`` passes against drift references; ``timer(arch, onnx_path)`` gives a
    :class:`Measurement` (module docstring).

    Timing settings as the latency table's (``backend``, ``threads``, ``batch_size``, ``warmup``, ``rounds``;
    ``geometry``: ``input_size``, ``in_channels``, ``num_classes``). ``passes`` >= 1, but decisions want
    :data:`MIN_PASSES` (3): the closed loop measures again before acting on an excess found with fewer.
    ``references``: arch texts (:func:`drift_references`), exported once to ``work_dir``. ``baselines``: their
    times (ms) on a quiet machine if known (an earlier stage's); else the per-reference median over the passes
    of the first measurement this timer makes, so that every later measurement is corrected to the machine as it
    was then. ``log``: one dict per measurement (arch, ONNX file, timestamp, the :meth:`Measurement.to_json`,
    the references' times per pass), for the reports.
    """

    def __init__(self, geometry: Mapping[str, int], backend: str = "onnxruntime", threads: int = 1,
                 batch_size: int = 1, warmup: int = 10, rounds: int = 100, *, work_dir: str | Path,
                 passes: int = MIN_PASSES, references: Sequence[str] = (),
                 baselines: Sequence[float] | None = None) -> None:
        from hwnas.cost.latency.backends import backend_class
        from hwnas.cost.latency.measure import check_count

        for name, value, minimum in (("passes", passes, 1), ("warmup", warmup, 0), ("rounds", rounds, 1),
                                     ("threads", threads, 1), ("batch_size", batch_size, 1)):
            check_count(name, value, minimum)
        backend_class(backend)  # an unknown backend is refused now, not at the first measurement
        if baselines is not None and (len(baselines) != len(references) or min(baselines, default=1) <= 0):
            raise ValueError(f"baselines must be one time > 0 per reference ({len(references)}), got "
                             f"{list(baselines)}")
        self.geometry = {k: int(geometry[k]) for k in ("input_size", "in_channels", "num_classes")}
        self.backend, self.threads, self.batch_size = backend, threads, batch_size
        self.warmup, self.rounds, self.passes = warmup, rounds, passes
        self.work_dir = Path(work_dir)
        self.references = tuple(references)
        self.baselines: tuple[float, ...] | None = None if baselines is None else tuple(map(float, baselines))
        self.log: list[dict[str, Any]] = []
        self._models: dict[tuple[str, str], Any] = {}  # (arch, file) -> what the backend times: exported once

    @classmethod
    def from_table(cls, lut: str | Path, work_dir: str | Path, *, passes: int = MIN_PASSES,
                   references: Sequence[str] | None = None, baselines: Sequence[float] | None = None,
                   rounds: int | None = None) -> DeployedTimer:
        """A timer with the settings of the latency table ``lut`` (backend, threads, batch size, geometry,
        warm-up, and rounds unless given), as its ops were timed. ``references`` left None: the calibration's
        drift references with their times at calibration as baselines
        (:func:`~hwnas.cost.latency.drift.table_references`), so that every measurement is put in the units of
        the table's predictions; none for a table without them. A table imported from another device is
        refused: timing here would judge this CPU against that device's budget."""
        from hwnas.cost.latency.drift import table_references
        from hwnas.cost.latency.table import LatencyTable

        table = LatencyTable.load(lut)
        p = table.provenance
        if p.get("source") == "imported":
            raise ValueError(f"{lut} was measured on another device ({p['device'].get('cpu_model')}): the measured "
                             "check has to run there")
        if references is None:
            kept = table_references(table)
            references, baselines = kept if kept is not None else ((), None)
        timing = p["timing"]
        return cls(p, p["backend"], p["threads"], p["batch_size"], timing.get("warmup", 10),
                   rounds or timing.get("rounds", 100), work_dir=work_dir, passes=passes, references=references,
                   baselines=baselines)

    def __call__(self, arch: str, onnx_path: str | Path) -> Measurement:
        """Time ``arch`` (exported to ``onnx_path`` where the backend times files) in every pass, each reference
        right after it, each alone; return the drift-corrected :class:`Measurement` and log it."""
        return self.measure_model(arch, self._model(arch, Path(onnx_path)))

    def measure_model(self, label: str, network: Any) -> Measurement:
        """Time ``network`` as it is (an ONNX file for the ONNX Runtime backends, an ``nn.Module`` for ``torch`` and
        ``cuda``: e.g. the trained, exported network of a run) the way :meth:`__call__` times an arch text;
        ``label`` names it in the log."""
        refs = [self._model(r, self.work_dir / f"drift_ref{i}.onnx") for i, r in enumerate(self.references)]
        net_ms: list[float] = []
        ref_ms: list[list[float]] = []
        for _ in range(self.passes):
            net_ms.append(self._time(network))
            ref_ms.append([self._time(r) for r in refs])
        if self.baselines is None and refs:
            self.baselines = tuple(statistics.median(column) for column in zip(*ref_ms))
        drift = [statistics.median(t / b for t, b in zip(row, self.baselines)) if refs else 1.0 for row in ref_ms]
        measurement = Measurement.from_passes(net_ms, drift)
        self.log.append({"arch": label, "onnx": str(network) if isinstance(network, (str, Path)) else None,
                         "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **measurement.to_json(),
                         "references_ms": ref_ms})
        return measurement

    def describe(self) -> dict[str, Any]:
        """The settings, references and baselines, JSON-able: what a report states beside :attr:`log`."""
        return {"backend": self.backend, "threads": self.threads, "batch_size": self.batch_size,
                "warmup": self.warmup, "rounds": self.rounds, "passes": self.passes, "geometry": self.geometry,
                "references": list(self.references),
                "baselines_ms": None if self.baselines is None else list(self.baselines),
                "how": "per pass: the network, then each drift reference, each alone (warm-up, then its rounds, "
                       "median); a pass's drift: the median over references of time / baseline; ms: the median "
                       "over passes of the network's time / drift"}

    def _model(self, arch: str, path: Path) -> Any:
        key = (arch, str(path))
        if key not in self._models:
            self._models[key] = deployed_model(arch, self.geometry, self.backend, path)
        return self._models[key]

    def _time(self, model: Any) -> float:
        from hwnas.cost.latency.measure import time_models

        g = self.geometry
        shape = (g["in_channels"], g["input_size"], g["input_size"])
        return time_models([model], self.backend, self.threads, self.batch_size, self.warmup, self.rounds,
                           input_shapes=shape)[0].median_ms

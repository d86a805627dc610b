"""Whole networks measured for a calibration or a validation: the :class:`Measured` record, and timing them on this
machine exactly as the table's ops were (:func:`measure_here`); a device's runner results give the same record
(:func:`hwnas.cost.latency.bundle.imported_networks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hwnas.arch.spec import ArchSpec
from hwnas.cost.latency.measure import check_count

if TYPE_CHECKING:
    from hwnas.cost.latency.table import LatencyTable


@dataclass(frozen=True)
class Measured:
    """Whole networks and their measured median (and IQR) in ms, and where they were measured."""

    specs: list[ArchSpec]
    median_ms: list[float]
    iqr_ms: list[float]
    source: str  # "measured" here, or "imported" (from a runner on another device)
    device: dict[str, Any]
    timing: dict[str, Any]
    overheads: dict[str, float] | None = None  # null-model ms by shape key, measured alongside (kind "overhead")
    # Per network, the median of each pass (``measure_here`` with ``passes > 1``): what a noise floor within the
    # run is computed from (:func:`hwnas.cost.latency.validate.split_floor`). None for one pass and for
    # networks that come from elsewhere (a runner's results, files written before it was kept).
    pass_medians_ms: list[list[float]] | None = None


def measure_here(table: LatencyTable, specs: Sequence[ArchSpec], rounds: int | None = None,
                 overheads: bool = False, passes: int = 1, order: str = "interleaved") -> Measured:
    """Time ``specs`` on this machine exactly as the table's ops were (its backend, threads, batch, geometry);
    with ``overheads``, also the null model of every op shape of the table (:mod:`hwnas.cost.latency.overhead`).

    ``passes > 1`` runs the whole interleaved measurement that many times, one after the other, and keeps per
    network the median of the passes' medians (and of their IQRs), as ``lut build --passes`` does for ops: a
    shared machine's slow spells last seconds to minutes, longer than one round of every network, so
    interleaving alone cannot spread them; a median over passes minutes apart can. Each pass's median is kept too
    (``pass_medians_ms``), for the noise floor within the run.

    ``order="alone"`` times each network on its own (warm, as deployed) instead of interleaved with the others
    (cold, as the table's ops were): a table calibrated so predicts deployed latency
    (:mod:`hwnas.cost.latency.measure`). The null models are always interleaved: they stand in for the ops' overheads.
    """
    from statistics import median

    from hwnas.cost.latency.backends import device_info
    from hwnas.cost.latency.overhead import measure_overheads, table_io_keys

    check_count("passes", passes, 1)
    runs = table.measure(list(specs), rounds=rounds, order=order, passes=passes)  # exported once, timed P times
    timing = dict(table.provenance["timing"], rounds=len(runs[0][0].samples_ms), network_passes=passes,
                  network_order=order)
    nulls = measure_overheads(table_io_keys(table.entries), table.provenance, rounds) if overheads else None
    medians = [median(run[i].median_ms for run in runs) for i in range(len(specs))]
    iqrs = [median(run[i].iqr_ms for run in runs) for i in range(len(specs))]
    per_pass = [[run[i].median_ms for run in runs] for i in range(len(specs))] if passes > 1 else None
    return Measured(list(specs), medians, iqrs, "measured", device_info(), timing, nulls, per_pass)


DEFAULT_NETWORK_PASSES = 3
"""Passes over the networks of a calibration or validation by default: every pass opens a new ONNX Runtime session
per network, and sessions of the same file differ: 40 sessions of one 32 px network, each timed warm for 100
calls, gave per-call medians from 0.664 to 0.779 ms on an idle machine (docs/BENCHMARKS.md, issue 20). The median
of three sessions halves that spread; a plain loop over the exported file meets the same spread."""

DEFAULT_NETWORK_ORDER = "alone"
"""How whole networks are timed for a new calibration: each on its own, warm, as a deployed network runs and as
the pipeline's final check times the exported model. On FBNet at 224 and 32 px this also made the networks
additive enough for every accuracy target at both sizes in one run, where interleaved (cold) networks missed at
224 px by one network (docs/BENCHMARKS.md)."""


def calibration_order(table: LatencyTable) -> str:
    """How the networks of the table's calibration were timed: :data:`DEFAULT_NETWORK_ORDER` if the table is
    uncalibrated, ``interleaved`` for calibrations made before the order was recorded."""
    if table.calibration is None:
        return DEFAULT_NETWORK_ORDER
    fit = table.calibration.get("fit") or {}
    return (fit.get("timing") or {}).get("network_order", "interleaved")


def check_device(table: LatencyTable, measured: Measured) -> None:
    """Networks measured on one CPU cannot calibrate a table measured on another."""
    want, have = table.provenance["device"].get("cpu_model"), measured.device.get("cpu_model")
    if want != have:
        raise ValueError(f"{table.where} was measured on {want!r}, but the networks on {have!r}: calibrate with "
                         "networks timed on the table's own device")

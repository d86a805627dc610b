"""Calibrate a latency table on measured whole networks: choose the kind, fit it, store it in the table.

A lookup table sums ops timed one by one (FBNet, Wu et al. 2019, Eq. 2-3). A whole network differs from that sum
in two ways: every op timed alone paid a per-call overhead (the Python call into the runtime, binding the input,
copying the output back) that the network pays once, and inside a network an op reads an input that the previous
op has just written (warm caches) and may fuse with its neighbours. Both move every network alike, so the
correction is fitted once per table on K networks sampled from the space and measured the same way as the table
(:func:`hwnas.cost.latency.measure.time_models`), stored in the table's ``calibration`` and applied by
:meth:`~hwnas.cost.latency.table.LatencyTable.predict` and :meth:`~hwnas.cost.latency.table.LatencyTable.expected`.

Two corrections, both fitted by ordinary least squares on the measured times:

* ``affine``: ``scale * raw + offset_ms``. ``offset_ms`` absorbs the per-call overhead of the ops every network
  of the space has (minus the one call a network pays), ``scale`` the cache and fusion effects that grow with the
  work. Any backend.
* ``overhead``: the same, applied to ``sum_i (lat_i - null_i)``, where ``null_i`` is the *measured* per-call
  overhead of op i (:mod:`hwnas.cost.latency.overhead`: a model of the op's input and output shapes that computes
  nothing). Within a space whose networks all have the same op shapes (FBNet) the two are the same fit; when the
  number or shapes of the ops vary (depth choice, other families) the overhead is removed per op instead of being
  folded into a constant. ONNX Runtime tables.
* ``graph``: ``scale * sum_i (lat_i - null_i) + node_ms * nodes + ms_per_mparam * params + ms_per_mconverted *
  converted + offset_ms``, where ``nodes``, ``params`` and ``converted`` are summed over the network's ops
  (:mod:`hwnas.cost.latency.graph_features`): the nodes a network really executes of each op, the weights it streams
  from memory (an op timed alone finds them in cache), and the elements the layout conversions at the op's
  boundary copy (an op timed alone runs them, a network does not: ``ms_per_mconverted`` comes out negative,
  about -0.5 ms per million elements on our CPU). Fitted by least squares on the *relative* error (each network
  weighted by 1 / its time), the error MAPE measures. ONNX Runtime tables; the default there
  (``default_kind``). On the same measured 224 px FBNet networks the conversions took the validation MAPE from
  2.2 to 1.9 %, and the worst network's error from 9.7 to 6.6 % (docs/BENCHMARKS.md).

* ``contextual``: ``graph`` plus one residual per op key, ``delta_k``: what op k costs inside the sampled
  networks beyond the ``graph`` prediction (an op's neighbours change its time: which layout it receives, what
  is left in cache). ``measured ~ graph + sum_k n_k delta_k``, ``n_k`` the count of op k in the network,
  fitted by ridge regression on the relative error (:mod:`hwnas.cost.latency.ridge`) with the strength chosen by
  5-fold cross-validation among ``RIDGE_LAMBDAS`` and "no residuals" (then the result is the ``graph`` fit, and
  says so). With 111 op keys in the FBNet space this needs on the order of a hundred networks
  (:data:`CONTEXTUAL_MIN_NETWORKS`); at 150 it took the 224 px validation from 92 to 98 % within +-5 %
  (docs/BENCHMARKS.md). The residuals stay per op, so the calibrated table is still a sum over ops: ``expected``
  and the search's separable costs hold.

The parts: the networks (:mod:`hwnas.cost.latency.sampled_nets`), timing them here
(:mod:`hwnas.cost.latency.measured_nets`), the fits (:mod:`hwnas.cost.latency.calibration_fit`), what each kind
stores and how it corrects a prediction (:mod:`hwnas.cost.latency.calibration_kinds`). Honest validation (the
point of the exercise) uses networks that were *not* used for the fit:
:func:`hwnas.cost.latency.validate.validate_table` samples with another seed and excludes every network whose
digest the calibration lists.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from hwnas.arch.spec import ArchSpec
from hwnas.cost.latency.backends import backend_class
from hwnas.cost.latency.calibration_fit import fit_contextual, fit_positive, plausible_calibration
from hwnas.cost.latency.calibration_kinds import kind_names
from hwnas.cost.latency.lookup import feature_lookup
from hwnas.cost.latency.measured_nets import Measured, check_device
from hwnas.cost.latency.sampled_nets import arch_digest
from hwnas.cost.latency.table import LatencyTable
from hwnas.space.base import SearchSpace


DEFAULT_SAMPLES = 150
"""Networks `hwnas lut calibrate` measures by default: enough for the contextual kind (docs/BENCHMARKS.md:
at 30 the 224 px FBNet table reaches 86-90 % of networks within +-5 %, at 150 98 %)."""
CONTEXTUAL_MIN_NETWORKS = 100
"""Below this many measured networks, ``auto`` does not fit per-op residuals (there are ~100 op keys)."""
GRAPH_MIN_NETWORKS = 8  # below this, "auto" fits "overhead": 5 coefficients need a margin of networks


def calibrate_table(table: LatencyTable, measured: Measured, space: SearchSpace | None = None,
                    seed: int | None = None, graph: bool = False, sampler: str = "uniform",
                    op_features: Mapping[str, Sequence[int]] | None = None,
                    progress: bool = False, contextual: bool = False) -> dict[str, Any]:
    """Fit the correction to ``measured`` networks, store it in ``table.calibration`` (not saved) and return it.

    The kind follows from what was measured: ``affine`` without null models, ``overhead`` with them, ``graph``
    with them and ``graph`` (the features of every op of the table are then computed, unless ``op_features``
    gives them).
    """
    check_device(table, measured)
    raw = [table.predict(spec, calibrated=False) for spec in measured.specs]
    nulls, per_net, net_features = measured.overheads, None, None
    if nulls is not None:
        per_net = [_net_overhead(table, spec, nulls) for spec in measured.specs]
    graph = graph or contextual
    if graph:
        if nulls is None:
            raise ValueError("a graph calibration needs the null-model overheads measured with the networks")
        if op_features is None:
            from hwnas.cost.latency.graph_features import table_features

            p = table.provenance
            op_features = table_features(table.entries, p["batch_size"], p["threads"], progress, p["backend"])
        net_features = [_net_features(table, spec, op_features) for spec in measured.specs]
    # Five coefficients on few or noisy networks can trade the scale for the node term, and a few noisy networks
    # can slope the wrong way: a simpler kind is the safer answer then (the fit records the fallback).
    calibration = fit_positive(raw, measured.median_ms, nulls, per_net, net_features, op_features)
    if contextual and calibration["kind"] == "graph":
        calibration = fit_contextual(table, measured, calibration)
    if space is not None:
        calibration = plausible_calibration(table, space, calibration, raw, measured, nulls, per_net)
    calibration["fit"] = {
        "samples": len(raw), "seed": seed, "space": space.name if space is not None else None,
        "sampler": sampler if seed is not None else "given", "source": measured.source,
        "device": measured.device.get("cpu_model"), "timing": measured.timing,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "networks": [arch_digest(spec) for spec in measured.specs],
    }
    table.calibration = calibration
    return calibration



def _net_overhead(table: LatencyTable, spec: ArchSpec, nulls: Mapping[str, float]) -> float:
    from hwnas.cost.latency.overhead import io_key

    keys = [io_key(op) for op in table.spec_ops(spec)]
    missing = [k for k in keys if k not in nulls]
    if missing:
        raise ValueError(f"no null-model overhead was measured for op shape {missing[0]}")
    return sum(nulls[k] for k in keys)


def _net_features(table: LatencyTable, spec: ArchSpec, op_features: Mapping[str, Sequence[int]]) -> list[float]:
    """A network's summed ``[executed nodes, parameters, converted elements]`` (its ops' features; elastic widths
    interpolated)."""
    rows = []
    for op in table.spec_ops(spec):
        found = feature_lookup(op, op_features, table.families)
        if found is None:
            raise ValueError(f"no graph features were computed for op {op.key!r}")
        rows.append(found)
    return [sum(r[i] for r in rows) for i in range(3)]


def default_kind(table: LatencyTable, kind: str = "auto", networks: int | None = None) -> str:
    """``kind``, or for ``"auto"``: where the table's backend has null models and graph features (ONNX Runtime),
    ``contextual`` from :data:`CONTEXTUAL_MIN_NETWORKS` measured ``networks``, ``graph`` from
    :data:`GRAPH_MIN_NETWORKS`, else ``overhead``; ``affine`` for backends without null models, ``overhead``
    for backends with null models but no graph features."""
    if kind == "auto":
        backend = backend_class(table.provenance["backend"])
        if not backend.has_null_models:
            return "affine"
        if not backend.has_graph_features:
            return "overhead"
        if networks is None:
            return "graph"
        return ("contextual" if networks >= CONTEXTUAL_MIN_NETWORKS else
                "graph" if networks >= GRAPH_MIN_NETWORKS else "overhead")
    if kind not in kind_names():
        raise ValueError(f"unknown calibration kind {kind!r}; valid: auto, {', '.join(kind_names())}")
    return kind



def calibrate_here(table: LatencyTable, space: SearchSpace, samples: int = DEFAULT_SAMPLES, seed: int = 0,
                   sampler: str = "uniform", kind: str = "auto", passes: int | None = None, rounds: int | None = None,
                   order: str | None = None, progress: bool = False) -> dict[str, Any]:
    """Calibrate ``table`` on this machine, as ``hwnas lut build`` (by default), ``hwnas lut calibrate`` and
    ``hwnas run`` do: ``samples`` networks of ``space`` drawn with ``seed`` and ``sampler``, each timed alone in
    its deployment export in ``passes`` passes (default :data:`~hwnas.cost.latency.measured_nets.
    DEFAULT_NETWORK_PASSES`; ``order``: default the table's, :func:`~hwnas.cost.latency.measured_nets.
    calibration_order`), the ``kind`` fitted (``auto``: :func:`default_kind`). The space's drift references
    (:mod:`hwnas.cost.latency.drift`) are timed with them, fitted with them and kept with their times.

    Why fit the references too: they include the space's lightest network. Uniform draws at 32 px never come
    near it (1 skip in 9 per FBNet layer), and a fit on them alone extrapolated it to 0.04 ms or below 0, which
    the plausibility check then replaced by a bare ratio (issue 20); with the lightest network among the fitted
    ones the fit has to hold there too. The calibration is stored in the table (not saved) and returned."""
    measured = measure_calibration_networks(table, space, samples, seed, sampler, kind, passes, rounds, order)
    return fit_measured(table, space, measured, seed, sampler, kind, progress)


def measure_calibration_networks(table: LatencyTable, space: SearchSpace, samples: int = DEFAULT_SAMPLES,
                                 seed: int = 0, sampler: str = "uniform", kind: str = "auto",
                                 passes: int | None = None, rounds: int | None = None,
                                 order: str | None = None) -> Measured:
    """The first half of :func:`calibrate_here`: the sampled networks, then the space's drift references, timed
    here (with the null models when the kind needs them)."""
    from hwnas.arch import decode
    from hwnas.cost.latency.drift import drift_references
    from hwnas.cost.latency.measured_nets import DEFAULT_NETWORK_PASSES, calibration_order, measure_here
    from hwnas.cost.latency.sampled_nets import sample_specs

    ref_specs = [decode(r) for r in drift_references(space)]
    specs = sample_specs(space, samples, seed, exclude=[arch_digest(s) for s in ref_specs], sampler=sampler)
    overheads = default_kind(table, kind, samples) in ("overhead", "graph", "contextual")
    return measure_here(table, specs + ref_specs, rounds, overheads, passes or DEFAULT_NETWORK_PASSES,
                        order or calibration_order(table))


def fit_measured(table: LatencyTable, space: SearchSpace, measured: Measured, seed: int = 0,
                 sampler: str = "uniform", kind: str = "auto", progress: bool = False) -> dict[str, Any]:
    """The second half of :func:`calibrate_here`: the ``kind`` fitted to networks measured by
    :func:`measure_calibration_networks`, the drift references (its last networks) kept with their times."""
    from hwnas.arch import encode
    from hwnas.cost.latency.drift import drift_references

    refs = drift_references(space)
    wanted = default_kind(table, kind, len(measured.specs) - len(refs))
    calibrate_table(table, measured, space, seed=seed, graph=wanted == "graph", contextual=wanted == "contextual",
                    sampler=sampler, progress=progress)
    if [encode(s) for s in measured.specs[-len(refs):]] != refs:
        raise ValueError("the measured networks do not end with the space's drift references")
    times = measured.median_ms[-len(refs):]
    passes = measured.timing.get("network_passes", 1)
    table.calibration = dict(table.calibration, drift_references={"archs": refs, "ms": times, "passes": passes})
    return table.calibration

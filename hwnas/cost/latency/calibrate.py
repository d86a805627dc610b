"""Calibrate a latency table on measured whole networks, and validate it on other ones.

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

Honest validation (the point of the exercise) uses networks that were *not* used for the fit:
:func:`validate_table` samples with another seed and excludes every network whose digest the calibration lists.
"""

from __future__ import annotations

import datetime
import logging
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hwnas.arch import encode
from hwnas.arch.spec import ArchSpec
from hwnas.cost.latency.backends import backend_class
from hwnas.cost.latency.table import LatencyTable, feature_lookup
from hwnas.cost.latency.measure import _check_count
from hwnas.cost.latency.ridge import CV_FOLDS, op_counts, ridge_residuals
from hwnas.cost.latency.validate import metrics
from hwnas.space.base import SearchSpace

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = 150
"""Networks `hwnas lut calibrate` measures by default: enough for the contextual kind (docs/BENCHMARKS.md:
at 30 the 224 px FBNet table reaches 86-90 % of networks within +-5 %, at 150 98 %)."""
MAX_MISSES = 1000  # draws in a row without a new network before a small space is declared exhausted


def arch_digest(spec: ArchSpec) -> str:
    """A short fingerprint of a network (its canonical text): how a calibration remembers what it was fitted on."""
    return hashlib.sha256(encode(spec).encode()).hexdigest()[:12]


SAMPLERS = ("uniform", "spread", "mixed")


def draw_choice(space: SearchSpace, rng: random.Random, sampler: str = "uniform") -> dict:
    """One architecture of ``space``.

    ``uniform``: every decision uniformly (the validation protocol). ``spread``: first a lightness ``p ~ U(0,
    0.9)``, then every decision that can skip skips with probability ``p`` (depth decisions take their smallest
    depth) and otherwise draws uniformly among its other values: the networks cover the whole latency range,
    including the light ones a tight budget makes a search return, which uniform draws (1 skip in 9 per FBNet
    layer) almost never produce. ``mixed``: uniform or spread with even odds.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
    if sampler == "mixed":
        sampler = "uniform" if rng.random() < 0.5 else "spread"
    if sampler == "uniform":
        return space.sample(rng)
    light = rng.uniform(0.0, 0.9)
    choice = {}
    for dim in space.dims():
        values = list(dim.values)
        lightest = "skip" if "skip" in values else values[0] if dim.label.endswith("_depth") else None
        if lightest is not None and rng.random() < light:
            choice[dim.label] = lightest
        else:
            others = [v for v in values if v != lightest] or values
            choice[dim.label] = rng.choice(others)
    return choice


def sample_specs(space: SearchSpace, n: int, seed: int, exclude: Sequence[str] = (),
                 sampler: str = "uniform") -> list[ArchSpec]:
    """``n`` distinct networks drawn from ``space`` with ``random.Random(seed)`` and ``sampler``
    (:func:`draw_choice`), none of whose digests (:func:`arch_digest`) is in ``exclude``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of sampled networks must be a positive integer, got {n!r}")
    rng, seen, specs, misses = random.Random(seed), set(exclude), [], 0
    while len(specs) < n:
        spec = space.to_spec(draw_choice(space, rng, sampler))
        digest = arch_digest(spec)
        if digest in seen:
            misses += 1
            if misses > MAX_MISSES:
                raise ValueError(f"space {space.name!r} has fewer than {n} distinct networks outside the "
                                 f"{len(exclude)} excluded ones")
            continue
        seen.add(digest)
        specs.append(spec)
        misses = 0
    return specs


# ---------------------------------------------------------------------------------------------------- fitting
def fit_affine(raw: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``(scale, offset)`` of ``measured ~ scale * raw + offset``.

    With a single network, or networks whose raw sums are all equal, only a ratio can be fitted: the offset is
    then 0 and the scale the ratio of the means.
    """
    x, y = [float(v) for v in raw], [float(v) for v in measured]
    if len(x) != len(y) or not x:
        raise ValueError(f"a fit needs as many raw sums as measurements, at least one (got {len(x)}, {len(y)})")
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxx = sum((a - mx) ** 2 for a in x)
    if len(x) < 2 or sxx <= 1e-12 * max(mx * mx, 1e-30):
        return my / mx, 0.0
    scale = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx
    return scale, my - scale * mx


def fit_calibration(raw: Sequence[float], measured: Sequence[float],
                    overhead_ms: Mapping[str, float] | None = None,
                    net_overheads: Sequence[float] | None = None,
                    net_features: Sequence[Sequence[float]] | None = None,
                    op_features: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    """The calibration fitted to (raw LUT sum, measured ms) pairs, with its in-sample error.

    Without overheads: kind ``affine``, ``measured ~ scale * raw + offset``. With ``overhead_ms`` (null-model ms
    by shape key) and ``net_overheads`` (their sum over each network's ops): kind ``overhead``, the same fit of
    ``raw - net_overhead``. With also ``net_features`` (each network's summed ``[executed nodes, parameters,
    converted elements]``) and ``op_features`` (the per-op values, stored for prediction): kind ``graph``
    (module docstring).
    """
    if (overhead_ms is None) != (net_overheads is None):
        raise ValueError("an overhead calibration needs both the per-shape overheads and their per-network sums")
    if (net_features is None) != (op_features is None) or (net_features is not None and overhead_ms is None):
        raise ValueError("a graph calibration needs the overheads, the per-op features and their per-network sums")
    if net_overheads is not None:
        raw = [r - o for r, o in zip(raw, net_overheads, strict=True)]
    if net_features is not None:
        rows = [[r, f[0], f[1] / 1e6, f[2] / 1e6] for r, f in zip(raw, net_features, strict=True)]
        # time grows with the table's sum, the nodes and the weights; the conversions an op paid alone come off
        scale, node_ms, ms_per_mparam, ms_per_mconverted, offset = fit_relative(rows, measured, (1, 1, 1, -1))
        fitted = [scale * r + node_ms * n + ms_per_mparam * p + ms_per_mconverted * c + offset
                  for r, n, p, c in rows]
    else:
        scale, offset = fit_affine(raw, measured)
        fitted = [scale * r + offset for r in raw]
    if scale <= 0:
        raise ValueError(f"the fit gives a non-positive scale ({scale:.3g}): measured times do not grow with the "
                         "table's predictions; measure more networks, or more rounds, on a quieter machine")
    kind = "affine" if overhead_ms is None else "overhead" if net_features is None else "graph"
    cal = {"kind": kind, "scale": scale, "offset_ms": offset,
           "in_sample": in_sample_metrics(fitted, measured)}
    if overhead_ms is not None:
        cal["overhead_ms"] = dict(overhead_ms)
    if net_features is not None:
        cal.update(node_ms=node_ms, ms_per_mparam=ms_per_mparam, ms_per_mconverted=ms_per_mconverted,
                   op_features={k: [int(v) for v in f] for k, f in op_features.items()})
    return cal


def in_sample_metrics(fitted: Sequence[float], measured: Sequence[float]) -> dict[str, Any]:
    """What a calibration records of its own fit (:func:`~hwnas.cost.latency.validate.metrics`, a subset)."""
    m = metrics(fitted, measured)
    return {k: m[k] for k in ("mape", "max_abs_pct", "within_5pct", "spearman", "n")}


def fit_relative(rows: Sequence[Sequence[float]], measured: Sequence[float],
                 signs: Sequence[int] | None = None) -> list[float]:
    """Coefficients ``w`` (one per column, then an intercept) minimising ``sum ((x . w + b) / y - 1)^2``: least
    squares on the relative error, each column's coefficient of the sign ``signs`` gives it (+1: >= 0, -1: <= 0,
    0: free; default all >= 0), the intercept free. Needs more networks than coefficients.

    The graph fit's columns have a known direction: the table's sum, executed nodes and weights can only add
    time, the layout conversions an op paid alone only take it away. An unbounded fit on a few noisy networks
    can give a column the wrong sign, which the fitted networks happen to cancel, and then predicts a network
    outside them (another family, a much larger one) at less than nothing: a graph fit on 6 networks once
    predicted a zoo network at -0.53 ms. Where the unbounded solution has the right signs, the bounded one is
    the same (SciPy's bounded least squares).
    """
    import numpy as np
    from scipy.optimize import lsq_linear

    x = np.asarray(rows, dtype=float)
    y = np.asarray(measured, dtype=float)
    if x.ndim != 2 or len(x) != len(y) or len(y) <= x.shape[1] + 1:
        raise ValueError(f"a fit of {x.shape[-1] + 1} coefficients needs more than that many measured networks, "
                         f"got {len(y)}")
    design = np.hstack([x, np.ones((len(y), 1))]) / y[:, None]
    signs = np.ones(x.shape[1]) if signs is None else np.asarray(signs, dtype=float)
    if signs.shape != (x.shape[1],):
        raise ValueError(f"signs must give one of +1, -1, 0 per column ({x.shape[1]}), got {list(signs)}")
    lower = np.r_[np.where(signs > 0, 0.0, -np.inf), -np.inf]
    upper = np.r_[np.where(signs < 0, 0.0, np.inf), np.inf]
    fit = lsq_linear(design, np.ones(len(y)), bounds=(lower, upper), method="bvls")
    return [float(c) for c in fit.x]


# ---------------------------------------------------------------------------------------------------- tables
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


def measure_here(table: LatencyTable, specs: Sequence[ArchSpec], rounds: int | None = None,
                 overheads: bool = False, passes: int = 1, order: str = "interleaved") -> Measured:
    """Time ``specs`` on this machine exactly as the table's ops were (its backend, threads, batch, geometry);
    with ``overheads``, also the null model of every op shape of the table (:mod:`hwnas.cost.latency.overhead`).

    ``passes > 1`` runs the whole interleaved measurement that many times, one after the other, and keeps per
    network the median of the passes' medians (and of their IQRs), as ``lut build --passes`` does for ops: a
    shared machine's slow spells last seconds to minutes, longer than one round of every network, so
    interleaving alone cannot spread them; a median over passes minutes apart can.

    ``order="alone"`` times each network on its own (warm, as deployed) instead of interleaved with the others
    (cold, as the table's ops were): a table calibrated so predicts deployed latency
    (:mod:`hwnas.cost.latency.measure`). The null models are always interleaved: they stand in for the ops' overheads.
    """
    from statistics import median

    from hwnas.cost.latency.backends import device_info
    from hwnas.cost.latency.overhead import measure_overheads, table_io_keys

    _check_count("passes", passes, 1)
    runs = [table.measure(list(specs), rounds=rounds, order=order) for _ in range(passes)]
    timing = dict(table.provenance["timing"], rounds=len(runs[0][0].samples_ms), network_passes=passes,
                  network_order=order)
    nulls = measure_overheads(table_io_keys(table.entries), table.provenance, rounds) if overheads else None
    medians = [median(run[i].median_ms for run in runs) for i in range(len(specs))]
    iqrs = [median(run[i].iqr_ms for run in runs) for i in range(len(specs))]
    return Measured(list(specs), medians, iqrs, "measured", device_info(), timing, nulls)


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
            op_features = table_features(table.entries, p["batch_size"], p["threads"], progress)
        net_features = [_net_features(table, spec, op_features) for spec in measured.specs]
    try:
        calibration = fit_calibration(raw, measured.median_ms, nulls, per_net, net_features, op_features)
    except ValueError as e:
        if net_features is None or "non-positive scale" not in str(e):
            raise
        # Five coefficients on few or noisy networks can trade the scale for the node term; the two-coefficient
        # overhead fit is the safer answer then (and the fit records that it was the fallback).
        log.warning("graph calibration failed (%s); fitting the overhead kind instead", e)
        calibration = fit_calibration(raw, measured.median_ms, nulls, per_net)
        calibration["fallback_from"] = "graph"
    if contextual and calibration["kind"] == "graph":
        calibration = fit_contextual(table, measured, calibration)
    if space is not None:
        calibration = _plausible(table, space, calibration, raw, measured, nulls, per_net)
    calibration["fit"] = {
        "samples": len(raw), "seed": seed, "space": space.name if space is not None else None,
        "sampler": sampler if seed is not None else "given", "source": measured.source,
        "device": measured.device.get("cpu_model"), "timing": measured.timing,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "networks": [arch_digest(spec) for spec in measured.specs],
    }
    table.calibration = calibration
    return calibration


CONTEXTUAL_MIN_NETWORKS = 100
"""Below this many measured networks, ``auto`` does not fit per-op residuals (there are ~100 op keys)."""

def fit_contextual(table: LatencyTable, measured: Measured, graph: dict[str, Any]) -> dict[str, Any]:
    """The ``contextual`` kind on top of a fitted ``graph`` calibration (module docstring); the ``graph`` one,
    marked, when cross-validation finds the residuals do not help."""
    table.calibration = graph
    predicted = [table.predict(spec) for spec in measured.specs]
    keys, counts = op_counts(table, measured.specs)
    delta, lam, cv = ridge_residuals(counts, measured.median_ms, predicted)
    folds = {"lambda": lam, "folds": CV_FOLDS, "cv_sse": cv}
    if lam is None:
        log.info("per-op residuals do not beat the graph fit in cross-validation: keeping the graph kind")
        return dict(graph, contextual_cv=folds)
    calibration = dict(graph, kind="contextual", op_residual_ms={k: float(d) for k, d in zip(keys, delta)},
                       contextual_cv=folds)
    table.calibration = calibration
    calibration["in_sample"] = in_sample_metrics([table.predict(s) for s in measured.specs], measured.median_ms)
    return calibration


PLAUSIBLE_FRACTION = 0.1
"""A calibration must predict the space's lightest network at more than this fraction of the fastest measured
network: the lightest network is faster than any sampled one, but not ten times faster in the spaces we ship."""


def lightest_prediction(table: LatencyTable, space: SearchSpace) -> float:
    """The calibrated prediction (ms) of the space's lightest network (exact: the table is separable)."""
    from hwnas.cost.separable import SeparableCost

    return SeparableCost(table, space).minimum()


def _plausible(table: LatencyTable, space: SearchSpace, calibration: dict[str, Any], raw: Sequence[float],
               measured: Measured, nulls: Mapping[str, float] | None,
               per_net: Sequence[float] | None) -> dict[str, Any]:
    """``calibration``, or a simpler one if it extrapolates the space's lightest network to (nearly) zero ms.

    A fit on a handful of noisy networks can have a large negative offset (or node term) that the sampled
    networks never expose but the lightest ones do: a budget search then believes a 0 ms network exists and
    the budget check is void. Each step down drops coefficients: graph, overhead, affine, then a pure ratio
    (offset 0), whose predictions are positive wherever the raw table's are.
    """
    floor = PLAUSIBLE_FRACTION * min(measured.median_ms)
    plain = {k: v for k, v in calibration.items() if k not in ("op_residual_ms", "contextual_cv")}
    steps = [("graph", lambda: dict(plain, kind="graph"))] if calibration["kind"] == "contextual" else []
    steps += [("overhead", lambda: fit_calibration(raw, measured.median_ms, nulls, per_net))] if nulls else []
    steps += [("affine", lambda: fit_calibration(raw, measured.median_ms)), ("ratio", lambda: _ratio(raw, measured))]
    current, tried = calibration, []
    while True:
        table.calibration = current
        low = lightest_prediction(table, space)
        if low > floor:
            if tried:
                log.warning("the %s calibration predicted the lightest network of %r at %s; fitted %s instead",
                            " then ".join(k for k, _ in tried), space.name,
                            ", ".join(f"{v:.4g} ms" for _, v in tried), current.get("fit_kind", current["kind"]))
                current["fallback_from"] = tried[0][0]
                current["in_sample"] = in_sample_metrics([table.predict(s) for s in measured.specs],
                                                         measured.median_ms)
            return current
        tried.append((current.get("fit_kind", current["kind"]), low))
        if not steps:
            raise ValueError(f"no calibration predicts the lightest network of {space.name!r} above "
                             f"{floor:.4g} ms ({PLAUSIBLE_FRACTION:.0%} of the fastest measured network): check "
                             "the table and the measured networks were timed the same way")
        _, fit = steps.pop(0)
        current = fit()


def _ratio(raw: Sequence[float], measured: Measured) -> dict[str, Any]:
    """The affine kind with offset 0: ``measured ~ scale * raw``, least squares on the relative error
    (``scale = sum(q) / sum(q^2)`` with ``q = raw / measured``)."""
    q = [r / m for r, m in zip(raw, measured.median_ms, strict=True)]
    scale = sum(q) / sum(v * v for v in q)
    return {"kind": "affine", "fit_kind": "ratio", "scale": scale, "offset_ms": 0.0,
            "in_sample": in_sample_metrics([scale * r for r in raw], measured.median_ms)}


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


GRAPH_MIN_NETWORKS = 8  # below this, "auto" fits "overhead": 5 coefficients need a margin of networks


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
    if kind not in ("affine", "overhead", "graph", "contextual"):
        raise ValueError(f"unknown calibration kind {kind!r}; valid: auto, affine, overhead, graph, contextual")
    return kind


def fitted_networks(table: LatencyTable) -> list[str]:
    """Digests of the networks the table's calibration was fitted on (none when it has no calibration)."""
    return list(((table.calibration or {}).get("fit") or {}).get("networks") or [])


def validate_table(table: LatencyTable, measured: Measured) -> dict[str, Any]:
    """Calibrated and raw predictions of ``measured`` networks against their times: :func:`metrics` of both.

    ``ValueError`` if any of the networks was used to fit the calibration (that would not be validation).
    """
    check_device(table, measured)
    used = set(fitted_networks(table))
    overlap = sum(arch_digest(spec) in used for spec in measured.specs)
    if overlap:
        raise ValueError(f"{overlap} of the {len(measured.specs)} validation networks were used to fit the "
                         "calibration; validate on other networks (another --seed)")
    raw = [table.predict(spec, calibrated=False) for spec in measured.specs]
    predicted = [table.predict(spec) for spec in measured.specs]
    result = metrics(predicted, measured.median_ms)
    result.update(calibrated=table.calibration is not None, uncalibrated=metrics(raw, measured.median_ms),
                  source=measured.source, device=measured.device.get("cpu_model"),
                  median_iqr_pct=_median([100 * i / m for i, m in zip(measured.iqr_ms, measured.median_ms)]),
                  points={"predicted_ms": predicted, "raw_ms": raw, "measured_ms": list(measured.median_ms)})
    return result


def _median(values: list[float]) -> float:
    s = sorted(values)
    return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2

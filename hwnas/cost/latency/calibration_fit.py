"""Fitting a latency table's calibration to measured whole networks: the least-squares fit of each kind, the
per-op residuals of the contextual kind, and the fallback to a simpler kind when a fit is implausible.

What each kind stores and how it corrects a prediction: :mod:`hwnas.cost.latency.calibration_kinds`; why each
exists and how well it does: :mod:`hwnas.cost.latency.calibrate`, which chooses the kind and calls these.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hwnas.cost.latency.measured_nets import Measured
from hwnas.cost.latency.ridge import CV_FOLDS, op_counts, ridge_residuals
from hwnas.cost.latency.validate import metrics
from hwnas.space.base import SearchSpace

if TYPE_CHECKING:
    from hwnas.cost.latency.table import LatencyTable

log = logging.getLogger(__name__)


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


def fit_contextual(table: LatencyTable, measured: Measured, graph: dict[str, Any]) -> dict[str, Any]:
    """The ``contextual`` kind on top of a fitted ``graph`` calibration (:mod:`hwnas.cost.latency.calibrate`); the
    ``graph`` one, marked, when cross-validation finds the residuals do not help."""
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


def plausible_calibration(table: LatencyTable, space: SearchSpace, calibration: dict[str, Any],
                          raw: Sequence[float], measured: Measured, nulls: Mapping[str, float] | None,
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
    steps += [("overhead", lambda: fit_positive(raw, measured.median_ms, nulls, per_net))] if nulls else []
    steps += [("affine", lambda: fit_positive(raw, measured.median_ms)),
              ("ratio", lambda: ratio_fit(raw, measured.median_ms))]
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


def fit_positive(raw: Sequence[float], measured_ms: Sequence[float],
                 overhead_ms: Mapping[str, float] | None = None, net_overheads: Sequence[float] | None = None,
                 net_features: Sequence[Sequence[float]] | None = None,
                 op_features: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    """:func:`fit_calibration` of the richest kind the inputs allow, stepping down (graph, overhead, affine, then a
    pure ratio) while a fit comes out with a non-positive scale.

    A larger table sum cannot make a network faster: a negative slope is the noise of a few networks timed on a
    busy machine, not a property of the device. Each step drops coefficients; the ratio is positive wherever the
    raw sums and the measurements are. The calibration records the kind it fell back from.
    """
    steps = []
    if net_features is not None:
        steps.append(("graph", lambda: fit_calibration(raw, measured_ms, overhead_ms, net_overheads, net_features,
                                                       op_features)))
    if overhead_ms is not None:
        steps.append(("overhead", lambda: fit_calibration(raw, measured_ms, overhead_ms, net_overheads)))
    steps.append(("affine", lambda: fit_calibration(raw, measured_ms)))
    failed = None
    for kind, fit in steps:
        try:
            calibration = fit()
        except ValueError as e:
            if "non-positive scale" not in str(e):
                raise
            log.warning("the %s calibration failed (%s); fitting a simpler kind", kind, e)
            failed = failed or kind
            continue
        break
    else:
        calibration = ratio_fit(raw, measured_ms)
    if failed is not None:
        calibration["fallback_from"] = failed
    return calibration


def ratio_fit(raw: Sequence[float], measured_ms: Sequence[float]) -> dict[str, Any]:
    """The affine kind with offset 0: ``measured ~ scale * raw``, least squares on the relative error
    (``scale = sum(q) / sum(q^2)`` with ``q = raw / measured``)."""
    q = [r / m for r, m in zip(raw, measured_ms, strict=True)]
    scale = sum(q) / sum(v * v for v in q)
    return {"kind": "affine", "fit_kind": "ratio", "scale": scale, "offset_ms": 0.0,
            "in_sample": in_sample_metrics([scale * r for r in raw], measured_ms)}


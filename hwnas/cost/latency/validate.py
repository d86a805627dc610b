"""How well a latency table predicts measured whole networks: MAPE, share within +-5 % / +-10 %, Spearman's rho.

The checks of ``hwnas lut validate`` and ``benchmarks/lut_accuracy.py``, and the noise floor within a run that the
latency benchmarks set beside them (:func:`split_floor`). A search ranks networks (Spearman, the measure
FBNet-style latency predictors are judged by, e.g. HW-NAS-Bench, Li et al. ICLR 2021) and keeps them under a
budget (the relative error). :func:`validate_table` compares a table's predictions with networks that
were not used to fit its calibration. The metrics are pure Python: no numpy, no scipy, no torch; the scatter
plot imports matplotlib (the ``plot`` extra) only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnas.cost.latency.measured_nets import Measured, check_device
from hwnas.cost.latency.sampled_nets import arch_digest, fitted_networks

if TYPE_CHECKING:
    from hwnas.cost.latency.table import LatencyTable


def _pairs(predicted: Sequence[float], measured: Sequence[float]) -> tuple[list[float], list[float]]:
    p, m = [float(v) for v in predicted], [float(v) for v in measured]
    if len(p) != len(m):
        raise ValueError(f"{len(p)} predictions but {len(m)} measurements")
    if not p:
        raise ValueError("no networks to compare")
    if not all(math.isfinite(v) for v in p + m) or min(m) <= 0:
        raise ValueError("measured latencies must be positive and every value finite")
    return p, m


def percent_errors(predicted: Sequence[float], measured: Sequence[float]) -> list[float]:
    """Signed error of each prediction in percent of its measurement (positive: over-predicted)."""
    p, m = _pairs(predicted, measured)
    return [100.0 * (a - b) / b for a, b in zip(p, m)]


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of the ranks they span (the "fractional" ranking Spearman needs)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1  # mean of the 1-based ranks i+1 .. j+1
        i = j + 1
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's correlation; NaN when either side is constant (a rank correlation of nothing is undefined)."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError("correlation needs two sequences of the same length, at least 2")
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx, syy = sum((a - mx) ** 2 for a in x), sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation with ties handled: Pearson's correlation of the fractional ranks.

    (The shortcut ``1 - 6 sum d^2 / (n (n^2 - 1))`` is exact only without ties.)
    """
    return pearson(ranks(x), ranks(y))


def metrics(predicted: Sequence[float], measured: Sequence[float]) -> dict[str, Any]:
    """``{"mape", "within_5pct", "within_10pct", "spearman", "n", ...}``; percentages are 0-100."""
    errors = percent_errors(predicted, measured)
    n = len(errors)
    absolute = [abs(e) for e in errors]
    return {
        "mape": sum(absolute) / n,
        "within_5pct": 100.0 * sum(e <= 5.0 for e in absolute) / n,
        "within_10pct": 100.0 * sum(e <= 10.0 for e in absolute) / n,
        "spearman": spearman(predicted, measured) if n > 1 else math.nan,
        "n": n,
        "bias_pct": sum(errors) / n,  # mean signed error: a level shift, what calibration removes
        "max_abs_pct": max(absolute),
    }


def split_floor(passes: Sequence[Sequence[float]]) -> dict[str, Any] | None:
    """The noise floor within one run: what a perfect predictor would score against the run's medians.

    ``passes`` holds, per network, its median in each pass of the run; the "measured" it is scored against is
    their median, as :func:`~hwnas.cost.latency.measured_nets.measure_here` keeps it. The passes are split into
    two halves, even and odd; with their means ``A`` and ``B``, ``(A - B) / (A + B)`` is the error of one half's
    mean against the mean of both, which has the spread of the whole run's error against the truth (halves of
    ``n / 2`` passes differ by twice a run of ``n`` passes' error). Applied to the median, it makes a
    pseudo-prediction, scored with :func:`metrics` like any prediction. With an odd number of passes the halves
    are unequal and their difference spreads more, so it is scaled by ``2 sqrt(k l) / n`` (``k`` and ``l``
    passes in the halves; exactly 1 when they are equal).

    Unlike a second run scored against the first, this holds only the noise of the run the predictions are scored
    on, not the machine's drift between two runs. ``None`` when a network has fewer than two passes (nothing to
    split).
    """
    from statistics import mean, median

    if not passes or min(len(p) for p in passes) < 2:
        return None
    measured, pseudo = [], []
    for p in passes:
        even, odd = p[0::2], p[1::2]
        a, b = mean(even), mean(odd)
        unequal = 2 * math.sqrt(len(even) * len(odd)) / len(p)
        m = median(p)
        measured.append(m)
        pseudo.append(m * (1 + unequal * (a - b) / (a + b)))
    return metrics(pseudo, measured)


def scatter_plot(predicted: Sequence[float], measured: Sequence[float], path: str | Path, title: str = "",
                 raw: Sequence[float] | None = None) -> Path:
    """Predicted vs measured ms as a PNG (matplotlib, Agg backend): the y = x line and the +-5 % band.

    ``raw`` (optional): the uncalibrated predictions, drawn as hollow markers beside the calibrated ones.
    """
    try:
        import matplotlib
    except ImportError:
        raise ValueError("--plot needs matplotlib (pip install 'hwnas[plot]' or pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only: no display on a server, and no GUI toolkit to import
    import matplotlib.pyplot as plt

    p, m = _pairs(predicted, measured)
    every = m + p + (list(raw) if raw is not None else [])
    lo, hi = min(every) * 0.95, max(every) * 1.05
    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=120)
    ax.fill_between([lo, hi], [lo * 0.95, hi * 0.95], [lo * 1.05, hi * 1.05], color="0.9", label="±5 %")
    ax.plot([lo, hi], [lo, hi], color="0.4", lw=1, label="predicted = measured")
    if raw is not None:
        ax.scatter(m, list(raw), s=16, facecolors="none", edgecolors="tab:red", label="uncalibrated")
    ax.scatter(m, p, s=16, color="tab:blue", label="calibrated" if raw is not None else "predicted")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="measured latency (ms)", ylabel="predicted latency (ms)",
           title=title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


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

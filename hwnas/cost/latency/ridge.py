"""Per-op residuals of the ``contextual`` calibration kind: ridge regression on the relative error, its strength
chosen by k-fold cross-validation (:func:`hwnas.cost.latency.calibration_fit.fit_contextual` uses them; the
docstring of :mod:`hwnas.cost.latency.calibrate` says what they model)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwnas.arch.spec import ArchSpec
    from hwnas.cost.latency.table import LatencyTable

RIDGE_LAMBDAS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
"""Ridge strengths the contextual fit cross-validates, relative to the mean squared column of its design."""
CV_FOLDS = 5
CV_MARGIN = 0.02
"""Per-op residuals are kept only if they cut the cross-validated error by at least this share."""


def op_counts(table: LatencyTable, specs: Sequence[ArchSpec]) -> tuple[list[str], Any]:
    """The op keys the networks use (sorted) and each network's count of each: an ``(networks, keys)`` array."""
    import numpy as np

    ops = [[op.key for op in table.spec_ops(spec)] for spec in specs]
    keys = sorted({k for row in ops for k in row})
    column = {k: i for i, k in enumerate(keys)}
    counts = np.zeros((len(specs), len(keys)))
    for i, row in enumerate(ops):
        for k in row:
            counts[i, column[k]] += 1
    return keys, counts


def ridge_residuals(counts: Any, measured: Sequence[float], predicted: Sequence[float],
                    lambdas: Sequence[float] = RIDGE_LAMBDAS, folds: int = CV_FOLDS) -> tuple[Any, float | None, dict]:
    """Per-op residuals ``delta`` minimising ``sum_i ((pred_i + n_i . delta - y_i) / y_i)^2 + lam c |delta|^2``
    (``c`` the mean squared column of the relative design, so ``lam`` is scale-free), ``lam`` chosen by
    ``folds``-fold cross-validation (network ``i`` in fold ``i % folds``) among ``lambdas`` and "no residuals".

    Returns ``(delta, lam, cv)``: ``delta`` all zero and ``lam`` ``None`` when no strength beats no residuals
    by :data:`CV_MARGIN`;
    ``cv`` maps each strength (and ``"none"``) to its held-out sum of squared relative errors.
    """
    import numpy as np

    y = np.asarray(measured, dtype=float)
    design = np.asarray(counts, dtype=float) / y[:, None]
    target = (y - np.asarray(predicted, dtype=float)) / y
    c = float((design ** 2).sum()) / max(design.shape[1], 1)

    def solve(a, b, lam):
        return np.linalg.solve(a.T @ a + lam * c * np.eye(a.shape[1]), a.T @ b)

    fold = np.arange(len(y)) % folds
    cv = {"none": float((target ** 2).sum())}
    for lam in lambdas:
        err = 0.0
        for f in range(folds):
            held = fold == f
            delta = solve(design[~held], target[~held], lam)
            err += float(((design[held] @ delta - target[held]) ** 2).sum())
        cv[str(lam)] = err
    best = min(cv, key=cv.get)
    exact = cv["none"] <= 1e-12 * len(y)  # the fit already explains every network: nothing left but rounding
    if exact or best == "none" or cv[best] > (1 - CV_MARGIN) * cv["none"]:  # residuals must earn their keep
        return np.zeros(design.shape[1]), None, cv
    lam = float(best)
    return solve(design, target, lam), lam, cv

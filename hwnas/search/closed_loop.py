"""The measured closed loop on a latency budget: search, time the chosen network on the target, search again.

A latency table predicts; the device decides. A search pushed to the edge of its budget finds exactly the
networks the table under-predicts (the ones whose ops cost more together than their entries say), so a result
that meets its budget *predicted* can break it *measured* (docs/BENCHMARKS.md, issue 5: two of four TF-NAS
results 22-23 % over). The loop closes that gap before any training is spent on the network:

1. search under the budget ``T``, as predicted by the table;
2. time the chosen network on the target (``measure``: a :class:`~hwnas.search.measured.Measurement`, drift
   corrected over several passes, or a bare number); if ``measured <= T_user``, done;
3. an excess inside the measurement's noise band (``measured <= T_user * (1 + noise)``), or one found with fewer
   than :data:`~hwnas.search.measured.MIN_PASSES` passes, is not yet evidence: the network is measured once more
   and the two measurements' passes pooled; only an excess that survives that decides (issue 19: a briefly busy
   machine measured a winner 36 % over its budget, and the result ended at a third of it);
4. else search again under ``T * max(T_user / measured * SAFETY, 1 - MAX_STEP)``: the predicted budget scaled by
   the measured excess, a little more, but by at most :data:`MAX_STEP` per retry; up to ``retries`` times;
5. return the last attempt that met the budget measured, else the attempt measured fastest.

A tightened budget below the space's lightest network (:class:`~hwnas.search.budgets.InfeasibleBudgetError`,
from :func:`~hwnas.search.budgets.check_feasible`, which every search calls) ends the loop with what it has; any
other error of a retry (a bad setting, a corrupt checkpoint, a full disk) propagates, as it would have at the
first attempt, instead of passing for "no network fits". One-shot methods (spos, random, hardcore) search the
retries from the supernet they trained at the first attempt, so a retry costs the search alone; the DNAS methods
(fbnet, tfnas) search again from scratch.

:func:`search_closed_loop` is the whole loop around :func:`hwnas.search.search`, shared by ``hwnas search
--check-measured`` and ``hwnas run`` (:func:`hwnas.run.pipeline.stage_search`): the two differ only in where the
attempts write (:class:`AttemptDirs`) and how a network is timed. :func:`search_within_measured` is the loop
itself on any search and measurement (``benchmarks/search_methods.py`` runs it on its own searches).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwnas.search.budgets import InfeasibleBudgetError
from hwnas.search.measured import MIN_PASSES, Measurement, deployed_model

SAFETY = 0.98
"""A retry aims 2 % below what the measured excess alone asks for: timings scatter by about that."""

MAX_STEP = 0.15
"""The most a retry tightens the predicted budget (15 %). A retry corrects the table's error on the networks near
the budget, which a calibrated table keeps to a few percent; an excess much larger than that is more likely a
slow spell that outlasted the measurements than a table that far off. The loop never loosens a budget, so a step
too large throws accuracy away for good, while a step too small costs one more retry, which measures again."""


def search_within_measured(search_at: Callable[[int, Any], dict[str, Any]],
                           measure: Callable[[int, dict], Measurement | float], budgets: Any, retries: int,
                           safety: float = SAFETY, announce: Callable[[str], None] = print, *,
                           max_step: float = MAX_STEP) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the loop of the module docstring; return ``(chosen, attempts)``.

    ``search_at(attempt, budgets)`` runs the search of attempt ``attempt`` (0 first) under ``budgets`` (a
    :class:`~hwnas.search.budgets.Budgets`, its ``max_latency_ms`` tightened on retries) and returns its result
    (with ``arch``, ``predicted_latency_ms``, ``search_time_s``). ``measure(attempt, result)`` times the
    chosen network on the target: a :class:`~hwnas.search.measured.Measurement` or a number of ms (one pass, no
    known noise). With ``retries`` 0 or no latency budget there is no measurement: the first result is chosen.
    Each attempt is a dict ``{attempt, budget_ms, arch, predicted_latency_ms, search_time_s, measured_ms, drift,
    noise, measurements, result}`` (``measured_ms``, ``drift``, ``noise``: of the measurement decided on, its
    re-take pooled in; ``measurements``: each measurement taken, as JSON; ``result``: the search's result), or
    ``{attempt, budget_ms, error}`` for a tightened budget no network meets (:class:`InfeasibleBudgetError`; any
    other exception of ``search_at`` propagates).
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if not 0 < safety <= 1:
        raise ValueError(f"safety must be in (0, 1], got {safety}")
    if not 0 < max_step < 1:
        raise ValueError(f"max_step must be in (0, 1), got {max_step}")
    limit = budgets.max_latency_ms
    checks = retries if limit is not None else 0
    attempts: list[dict[str, Any]] = []
    current = budgets
    for attempt in range(checks + 1):
        try:
            result = search_at(attempt, current)
        except InfeasibleBudgetError as e:  # the tightened budget is below the lightest network: keep what we have
            if attempt == 0:
                raise
            attempts.append({"attempt": attempt, "budget_ms": current.max_latency_ms, "error": str(e)})
            break
        entry = {"attempt": attempt, "budget_ms": current.max_latency_ms, "arch": result["arch"],
                 "predicted_latency_ms": result["predicted_latency_ms"],
                 "search_time_s": result.get("search_time_s", 0.0), "result": result}
        attempts.append(entry)
        if not checks:
            break
        decided = _measured(entry, lambda: measure(attempt, result), limit, announce)
        if not decided.over(limit):
            break
        factor = max(limit / decided.ms * safety, 1 - max_step)
        tighter = current.max_latency_ms * factor
        announce(f"[search] measured {decided.ms:.3f} ms > budget {limit:.3f} ms (median of {decided.passes} "
                 f"passes, drift {decided.drift:.2f}): searching again under a predicted {tighter:.3f} ms"
                 + (f" (at most {max_step:.0%} tighter per retry)" if factor == 1 - max_step else ""))
        current = dataclasses.replace(current, max_latency_ms=tighter)
    done = [a for a in attempts if "arch" in a]
    met = [a for a in done if a.get("measured_ms", 0.0) <= (limit if limit is not None else float("inf"))]
    chosen = met[-1] if met else min(done, key=lambda a: a["measured_ms"])
    return chosen, attempts


def _measured(entry: dict[str, Any], measure: Callable[[], Measurement | float], limit: float,
              announce: Callable[[str], None]) -> Measurement:
    """Measure the attempt's network, once more if its excess over ``limit`` is not yet evidence (step 3 of the
    module docstring); record every measurement in ``entry``; return the one decided on."""
    taken = [Measurement.of(measure())]
    decided = taken[0]
    if decided.over(limit) and not decided.confirmed_over(limit):
        announce(f"[search] measured {decided.ms:.3f} ms > budget {limit:.3f} ms, but "
                 + (f"within its noise (+-{decided.noise:.0%})" if decided.passes >= MIN_PASSES
                    else f"from {decided.passes} pass(es)") + ": measuring again")
        taken.append(Measurement.of(measure()))
        decided = decided.pooled(taken[1])
    entry.update(measured_ms=decided.ms, drift=decided.drift, noise=decided.noise,
                 measurements=[m.to_json() for m in taken])
    return decided


@dataclass(frozen=True)
class AttemptDirs:
    """Where each attempt of the loop writes: the first in ``first``, retry ``N`` in ``root / f"{prefix}{N}"``."""

    first: Path
    root: Path
    prefix: str

    def __call__(self, attempt: int) -> Path:
        return self.first if attempt == 0 else self.root / f"{self.prefix}{attempt}"


def has_search_state(directory: Path) -> bool:
    """Whether a search left a state to continue in ``directory``: a checkpoint, or a trained supernet."""
    from hwnas.search.parts.engine import STATE_NAME
    from hwnas.search.parts.oneshot import SUPERNET_WEIGHTS

    return (directory / STATE_NAME).is_file() or (directory / SUPERNET_WEIGHTS).is_file()


def resumes(attempt: int, directory: Path, resume: bool | None) -> bool:
    """The resume rule: the first attempt resumes as the caller asks (``None``: whenever its directory holds a
    search state, as ``hwnas run`` always continues); a retry, part of the same request, whenever its directory
    holds one."""
    if attempt == 0 and resume is not None:
        return resume
    return has_search_state(directory)


def search_closed_loop(method: str, search_args: Mapping[str, Any], budgets: Any,
                       measure: Callable[[str, Path], Measurement | float], dirs: AttemptDirs, retries: int, *,
                       resume: bool | None = None, from_supernet: str | Path | None = None,
                       announce: Callable[[str], None] = print) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Search ``method`` under ``budgets`` within the measured loop; return ``(chosen, attempts)`` as
    :func:`search_within_measured` does.

    ``search_args``: the other arguments of :func:`hwnas.search.search` (space, dataset, lut, overrides, ...).
    ``measure(arch, onnx_path)`` times a chosen network on the target (a :class:`~hwnas.search.measured.Measurement`,
    e.g. from a :class:`~hwnas.search.measured.DeployedTimer`, or ms), exporting it to ``onnx_path`` (a
    ``check.onnx`` in the attempt's directory) if it needs a file; it is called again for a re-take. Attempt ``N``
    writes to ``dirs(N)`` and resumes by :func:`resumes`. A method that reuses its supernet
    (:attr:`SearchMethod.reuses_supernet`) searches the retries on ``from_supernet``, else on the supernet the
    first attempt trained.
    """
    from hwnas.search.api import search
    from hwnas.search.registry import get_method

    reuses = get_method(method).reuses_supernet

    def search_at(attempt: int, current: Any) -> dict[str, Any]:
        where = dirs(attempt)
        reuse = (from_supernet or dirs(0)) if attempt and reuses else from_supernet
        return search(method, out=where, budgets=current, resume=resumes(attempt, where, resume),
                      from_supernet=reuse, **search_args)

    def measure_at(attempt: int, result: dict[str, Any]) -> Measurement | float:
        return measure(result["arch"], dirs(attempt) / "check.onnx")

    return search_within_measured(search_at, measure_at, budgets, retries, announce=announce)


def time_deployed(arch: str, geometry: Mapping[str, int], backend: str, threads: int, batch_size: int,
                  warmup: int, rounds: int, onnx_path: str | Path):
    """The :class:`~hwnas.cost.latency.measure.Timing` of ``arch``, freshly initialised (latency does not depend on the
    weights), timed once, alone and warm as it runs deployed; for ``onnxruntime`` exported first with the deployment
    export (:func:`hwnas.search.measured.deployed_model`) to ``onnx_path``, which is kept.

    ``geometry``: ``input_size``, ``in_channels``, ``num_classes``. One timing, exposed to whatever the machine
    is doing meanwhile: the closed loop decides on :class:`hwnas.search.measured.DeployedTimer`'s repeated,
    drift-corrected measurements instead; benchmarks time finished results with this.
    """
    from hwnas.cost.latency.measure import time_models

    size, channels = geometry["input_size"], geometry["in_channels"]
    model = deployed_model(arch, geometry, backend, onnx_path)
    return time_models([model], backend, threads, batch_size, warmup, rounds,
                       input_shapes=(channels, size, size))[0]


def measure_with_table(arch: str, lut: str | Path, onnx_path: str | Path, rounds: int | None = None) -> float:
    """Median ms of ``arch`` by :func:`time_deployed` with the table's settings (backend, threads, batch size,
    geometry, warm-up and rounds, unless ``rounds``): one timing (the loop uses
    :meth:`hwnas.search.measured.DeployedTimer.from_table`)."""
    from hwnas.cost.latency.table import LatencyTable

    p = LatencyTable.load(lut).provenance
    if p.get("source") == "imported":
        raise ValueError(f"{lut} was measured on another device ({p['device'].get('cpu_model')}): the measured "
                         "check has to run there")
    timing = p["timing"]
    return time_deployed(arch, p, p["backend"], p["threads"], p["batch_size"], timing.get("warmup", 10),
                         rounds or timing.get("rounds", 100), onnx_path).median_ms

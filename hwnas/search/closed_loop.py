"""The measured closed loop on a latency budget: search, time the chosen network on the target, search again.

A latency table predicts; the device decides. A search pushed to the edge of its budget finds exactly the
networks the table under-predicts (the ones whose ops cost more together than their entries say), so a result
that meets its budget *predicted* can break it *measured* (docs/BENCHMARKS.md, issue 5: two of four TF-NAS
results 22-23 % over). The loop closes that gap before any training is spent on the network:

1. search under the budget ``T``, as predicted by the table;
2. time the chosen network on the target (``measure``); if ``measured <= T_user``, done;
3. else search again under ``T * T_user / measured * SAFETY`` (the predicted budget scaled by the measured
   excess, a little more), up to ``retries`` times;
4. return the last attempt that met the budget measured, else the attempt measured fastest.

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

SAFETY = 0.98
"""A retry aims 2 % below what the measured excess alone asks for: timings scatter by about that."""


def search_within_measured(search_at: Callable[[int, Any], dict[str, Any]], measure: Callable[[int, dict], float],
                           budgets: Any, retries: int, safety: float = SAFETY,
                           announce: Callable[[str], None] = print) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the loop of the module docstring; return ``(chosen, attempts)``.

    ``search_at(attempt, budgets)`` runs the search of attempt ``attempt`` (0 first) under ``budgets`` (a
    :class:`~hwnas.search.budgets.Budgets`, its ``max_latency_ms`` tightened on retries) and returns its result
    (with ``arch``, ``predicted_latency_ms``, ``search_time_s``). ``measure(attempt, result)`` times the
    chosen network on the target (ms). With ``retries`` 0 or no latency budget there is no measurement: the
    first result is chosen. Each attempt is a dict ``{attempt, budget_ms, arch, predicted_latency_ms,
    search_time_s, measured_ms, result}`` (``result``: the search's result), or ``{attempt, budget_ms,
    error}`` for a tightened budget no network meets (:class:`InfeasibleBudgetError`; any other exception of
    ``search_at`` propagates).
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if not 0 < safety <= 1:
        raise ValueError(f"safety must be in (0, 1], got {safety}")
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
        entry["measured_ms"] = float(measure(attempt, result))
        if entry["measured_ms"] <= limit:
            break
        tighter = current.max_latency_ms * limit / entry["measured_ms"] * safety
        announce(f"[search] measured {entry['measured_ms']:.3f} ms > budget {limit:.3f} ms: searching again "
                 f"under a predicted {tighter:.3f} ms")
        current = dataclasses.replace(current, max_latency_ms=tighter)
    done = [a for a in attempts if "arch" in a]
    met = [a for a in done if a.get("measured_ms", 0.0) <= (limit if limit is not None else float("inf"))]
    chosen = met[-1] if met else min(done, key=lambda a: a["measured_ms"])
    return chosen, attempts


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
                       measure: Callable[[str, Path], float], dirs: AttemptDirs, retries: int, *,
                       resume: bool | None = None, from_supernet: str | Path | None = None,
                       announce: Callable[[str], None] = print) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Search ``method`` under ``budgets`` within the measured loop; return ``(chosen, attempts)`` as
    :func:`search_within_measured` does.

    ``search_args``: the other arguments of :func:`hwnas.search.search` (space, dataset, lut, overrides, ...).
    ``measure(arch, onnx_path)`` times a chosen network on the target (ms), exporting it to ``onnx_path`` (a
    ``check.onnx`` in the attempt's directory) if it needs a file. Attempt ``N`` writes to ``dirs(N)`` and
    resumes by :func:`resumes`. A method that reuses its supernet (:attr:`SearchMethod.reuses_supernet`) searches
    the retries on ``from_supernet``, else on the supernet the first attempt trained.
    """
    from hwnas.search.api import search
    from hwnas.search.registry import get_method

    reuses = get_method(method).reuses_supernet

    def search_at(attempt: int, current: Any) -> dict[str, Any]:
        where = dirs(attempt)
        reuse = (from_supernet or dirs(0)) if attempt and reuses else from_supernet
        return search(method, out=where, budgets=current, resume=resumes(attempt, where, resume),
                      from_supernet=reuse, **search_args)

    def measure_at(attempt: int, result: dict[str, Any]) -> float:
        return measure(result["arch"], dirs(attempt) / "check.onnx")

    return search_within_measured(search_at, measure_at, budgets, retries, announce=announce)


def time_deployed(arch: str, geometry: Mapping[str, int], backend: str, threads: int, batch_size: int,
                  warmup: int, rounds: int, onnx_path: str | Path):
    """The :class:`~hwnas.cost.latency.measure.Timing` of ``arch``, freshly initialised (latency does not depend on the
    weights), timed alone and warm as it runs deployed; for ``onnxruntime`` exported first with the deployment
    export (:func:`hwnas.workflows.export.export_model`, BN folded) to ``onnx_path``, which is kept.

    ``geometry``: ``input_size``, ``in_channels``, ``num_classes``. The one measurement behind the closed loop
    (``hwnas run``, ``hwnas search --check-measured``) and the search benchmark.
    """
    from hwnas.arch import decode
    from hwnas.cost.latency.backends import backend_class
    from hwnas.cost.latency.measure import time_models
    from hwnas.workflows.export import export_model
    from hwnas.nn import build_model

    spec = decode(arch)
    size, channels = geometry["input_size"], geometry["in_channels"]
    model: Any = build_model(spec, geometry["num_classes"], channels).eval()
    if backend_class(backend).times_exported_onnx:  # the int8 backend quantizes the module itself
        Path(onnx_path).parent.mkdir(parents=True, exist_ok=True)
        export_model(model, spec, Path(onnx_path), "onnx", size, channels)
        model = Path(onnx_path)
    return time_models([model], backend, threads, batch_size, warmup, rounds,
                       input_shapes=(channels, size, size))[0]


def measure_with_table(arch: str, lut: str | Path, onnx_path: str | Path, rounds: int | None = None) -> float:
    """Median ms of ``arch`` by :func:`time_deployed` with the table's settings (backend, threads, batch size,
    geometry, warm-up and rounds, unless ``rounds``)."""
    from hwnas.cost.latency.table import LatencyTable

    p = LatencyTable.load(lut).provenance
    if p.get("source") == "imported":
        raise ValueError(f"{lut} was measured on another device ({p['device'].get('cpu_model')}): the measured "
                         "check has to run there")
    timing = p["timing"]
    return time_deployed(arch, p, p["backend"], p["threads"], p["batch_size"], timing.get("warmup", 10),
                         rounds or timing.get("rounds", 100), onnx_path).median_ms

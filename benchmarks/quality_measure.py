"""The ``measure`` phase of ``benchmarks/search_quality.py``: every network the table judges timed alone as
deployed, several times in turns across the networks, pooled; a pooled value over its budget measured again
before the table acts on it."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from functools import reduce
from pathlib import Path
from typing import Any

from recipe_ranking import digest, read_json, write_json
from quality_cache import budgets_ms, deployed_timer, final_networks, timed


def measured_in_turns(judged: Mapping[str, float], time_arch: Any, records: dict[str, dict[str, Any]],
                      count: int, save: Any = None, announce: Any = print) -> None:
    """Top every network's record up to ``count`` independent measurements, taken in turns across the networks
    (turn 1 times each network once, turn 2 again, ...) so that a burst of load on a shared machine falls on one
    measurement of several networks, not on every measurement of one. The record's value is all its passes
    pooled (:meth:`Measurement.pooled`: the median over every drift-corrected pass). A network whose pooled
    value is over the budget it is judged at (``judged``: arch -> tightest budget) once it has ``count`` is
    measured once more and pooled (``retaken``): no verdict on one unlucky moment. ``records`` (arch -> record,
    updated in place) are what the cache holds; ``time_arch(arch)`` takes one Measurement; ``save(arch, record)``
    is called after each (a killed run keeps what it measured)."""
    from hwnas.search.measured import Measurement

    def pooled(record: Mapping[str, Any]) -> Measurement:
        return reduce(Measurement.pooled, (Measurement.from_passes(m["passes_ms"], m["drift_passes"])
                                           for m in record["measurements"]))

    def take(arch: str, why: str) -> None:
        record = records.setdefault(arch, {"arch": arch, "measurements": []})
        m = time_arch(arch)
        record["measurements"].append({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "why": why, **m.to_json()})
        total = pooled(record)
        record.update(total.to_json(), first_ms=record["measurements"][0]["ms"], count=len(record["measurements"]),
                      retaken=any(r["why"] == "over" for r in record["measurements"]))
        if save is not None:
            save(arch, record)
        announce(f"[measure {digest(arch)} ({len(record['measurements'])}/{count}, {why}): {m.ms:.3f} ms "
                 f"(raw {m.raw_ms:.3f}, drift {m.drift:.3f}); pooled {total.ms:.3f} ms]")

    for turn in range(count):
        for arch in judged:
            if len(records.get(arch, {}).get("measurements", [])) <= turn:
                take(arch, f"turn {turn + 1}")
    for arch, budget in judged.items():
        record = records[arch]
        if record["ms"] > budget and not record["retaken"]:
            take(arch, "over")


def phase_measure(out: Path, args: argparse.Namespace) -> None:
    """Every final network timed alone as deployed, ``--final-measurements`` times in turns across the networks
    (:func:`measured_in_turns`), pooled; one pooled over a budget it is judged at is measured again before the
    table acts on it (as the closed loop does: no decision on one measurement). A rerun tops the cache up."""
    budgets = budgets_ms(out)
    judged: dict[str, float] = {}  # arch -> the tightest budget it is judged at
    for _, index, _, arch in final_networks(out, args):
        judged[arch] = min(judged.get(arch, float("inf")), budgets[index])
    path = {arch: out / "measure" / f"{digest(arch)}.json" for arch in judged}
    records = {arch: record for arch in judged if (record := read_json(path[arch])) is not None
               and "measurements" in record}  # a record of the one-measurement format is measured anew
    with deployed_timer(out, args, args.final_passes) as timer:
        measured_in_turns(judged, lambda arch: timed(timer, out, arch), records, args.final_measurements,
                          save=lambda arch, record: write_json(path[arch], record),
                          announce=lambda line: print(line, flush=True))

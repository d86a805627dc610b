"""The ``finalists`` phase of ``benchmarks/search_quality.py`` (issue 19, item 1): per search, ``hwnas run``'s
finalist stage made of the same library calls: the result's ``finalist_pool`` plus MobileNetV2's member, each
filled into ``[0.9 B, 0.97 B]`` measured, then successive halving on the held-out tenth. One row per search in
``OUT/rows/``."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recipe_ranking import digest, read_json, train_cached, write_json
from quality_cache import (MEMBER, budgets_ms, deployed_timer, encode_choice, predictor, row_path, search_dir,
                           the_space, timed)


def fill_entries(out: Path, space: Any, predict: Any, timer: Any, entries: Sequence[Any], result: Any,
                 budget: float, index: int, cache: Path, fill_rounds: int) -> list[Any]:
    """Each entry moved into ``[0.9 B, 0.97 B]`` measured (:func:`hwnas.search.finalists.filled_finalists`): search
    entries with the result's preference, the reference entry as the references phase filled it."""
    from hwnas.search.filling import fill_measured
    from hwnas.search.finalists import filled_finalists
    from hwnas.search.preference import result_preference

    def fill(entry: Any) -> dict[str, Any]:
        if entry.source == "reference":
            record = read_json(out / "references" / f"member_b{index}.json")
            if record is None or not same(record["start"], entry.choice):
                raise SystemExit(f"no filling of {entry.name} at budget {index} yet: run the references phase")
            return {k: v for k, v in record.items() if k != "start"}
        return fill_measured(space, entry.choice, predict, lambda c: timed(timer, out, encode_choice(space, c)),
                             budget, result_preference(result), rounds=fill_rounds).to_json()

    return filled_finalists(entries, fill, cache, budget, announce=lambda line: print(line, flush=True))


def same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(dict(b), sort_keys=True)


def finalist_stage(out: Path, args: argparse.Namespace, space: Any, predict: Any, timer: Any, seed: int,
                   method: str, index: int, budget: float) -> dict[str, Any]:
    """Pool -> filling -> successive halving for one search (module docstring); the row to save."""
    from hwnas import zoo
    from hwnas.search.finalists import finalist_entries, successive_halving
    from hwnas.search.result import SearchResult

    fin, where = args.finalists, search_dir(out, seed, method, index)
    result = SearchResult.load(where)
    pool = result.get("finalist_pool") or [result.choice]
    entries = finalist_entries(space, pool, fin["count"], {MEMBER: zoo.get(MEMBER).spec})
    started = time.perf_counter()
    finalists = fill_entries(out, space, predict, timer, entries, result, budget, index,
                             out / "finalists" / f"s{seed}_{method}_b{index}_fill.json", fin["fill_rounds"])
    used: list[dict[str, Any]] = []

    def train(finalist: Any, r: int, epochs: float) -> float:
        row = train_cached(out, encode_choice(space, finalist.choice), seed, f"finalist_e{epochs:g}",
                           {"epochs": int(epochs), "limit": fin["limit"]})
        used.append(row)
        return row["val_top1"]

    winner = finalists[0]
    if len(finalists) > 1:
        winner = successive_halving(finalists, train, fin["epochs"], keep=fin["keep"],
                                    announce=lambda line: print(line, flush=True))
    timing = read_json(where / "timing.json") or {}
    fill = winner.extra["fill"]
    return {"seed": seed, "method": method, "index": index, "budget_ms": budget,
            "search": {"dir": str(where), "arch": result.arch, "predicted_ms": result.predicted_latency_ms,
                       "search_s": timing.get("wall_s", result.search_time_s), "cpu_s": timing.get("cpu_s"),
                       "from_supernet": timing.get("from_supernet", False)},
            "winner": winner.name, "winner_source": winner.source, "arch": encode_choice(space, winner.choice),
            "predicted_ms": predict(winner.choice),
            "fill": {k: fill[k] for k in ("measured_ms", "fraction", "in_band", "reason")} | {
                "steps": len(fill["steps"])},
            "finalists": [{**f.to_json(), "arch": encode_choice(space, f.choice)} for f in finalists],
            "finalist_trainings": [{k: t[k] for k in ("recipe_name", "val_top1", "wall_s", "cpu_s")} | {
                "digest": digest(t["arch"])} for t in used],
            "finalist_cpu_s": sum(t["cpu_s"] for t in used), "stage_wall_s": time.perf_counter() - started}


def phase_finalists(out: Path, args: argparse.Namespace) -> None:
    space = the_space(args)
    predict = predictor(out, space)
    with deployed_timer(out, args, args.decision_passes) as timer:
        for seed in args.seeds:
            for method in args.methods:
                for i, budget in enumerate(budgets_ms(out)):
                    path = row_path(out, seed, method, i)
                    if path.is_file():
                        continue
                    if not (search_dir(out, seed, method, i) / "result.json").is_file():
                        print(f"[finalists seed {seed} {method} b{i}: no search result yet]", flush=True)
                        continue
                    row = finalist_stage(out, args, space, predict, timer, seed, method, i, budget)
                    write_json(path, row)
                    print(f"[finalists seed {seed} {method} at {budget:.3f} ms: {row['winner']}, "
                          f"{row['fill']['measured_ms']:.3f} ms ({100 * row['fill']['fraction']:.0f} %)]", flush=True)

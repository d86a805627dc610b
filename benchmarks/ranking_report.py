"""The ranking table of ``supernet_ranking.py``: Kendall tau, Spearman rho and top-5 overlap of each cached score
against the stand-alone truth, with the truth's own seed-to-seed tau as the ceiling, read from its ``--out``.

Kept apart from the phases that fill the cache, so that the table (and its statistics) can be printed and tested
without torch work.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SEEDS = (0, 1)  # the stand-alone recipe's seeds: their mean is the truth, their agreement the ceiling
GROUPS = ("whole", "band")
TOP_K = 5


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text()) if Path(path).is_file() else None


def top_overlap(score: Sequence[float], truth: Sequence[float], k: int = TOP_K) -> float:
    """Share of the truth's top ``k`` that the score's top ``k`` holds (ties broken by position)."""
    def best(values: Sequence[float]) -> set[int]:
        return set(sorted(range(len(values)), key=lambda i: (-values[i], i))[:k])

    k = min(k, len(truth))
    return len(best(score) & best(truth)) / k if k else float("nan")


def rank_quality(score: Sequence[float], truth: Sequence[float]) -> dict[str, float]:
    """Kendall tau (tau-b), Spearman rho (scipy.stats) and top-5 overlap of ``score`` against ``truth``."""
    from scipy import stats

    if len(score) != len(truth):
        raise ValueError(f"{len(score)} scores for {len(truth)} true values")
    if len(score) < 3:
        return {"tau": float("nan"), "rho": float("nan"), "top5": float("nan"), "n": len(score)}
    tau = stats.kendalltau(score, truth).statistic
    rho = stats.spearmanr(score, truth).statistic
    return {"tau": float(tau), "rho": float(rho), "top5": top_overlap(score, truth), "n": len(score)}


def truth_table(out: Path, selection: Mapping[str, Any], folder: str = "truth") -> dict[str, dict[int, float]]:
    """``{arch id: {seed: test top-1}}`` of the finished trainings (in ``OUT/folder``: ``truth``, or
    ``truth_long`` for the longer recipe)."""
    table: dict[str, dict[int, float]] = {}
    for arch in selection["archs"]:
        for seed in SEEDS:
            row = read_json(out / folder / f"{arch['id']}_s{seed}.json")
            if row is not None:
                table.setdefault(arch["id"], {})[seed] = row["test_top1"]
    return table


def group_ids(selection: Mapping[str, Any]) -> dict[str, list[str]]:
    ids = {"all": [a["id"] for a in selection["archs"]]}
    for group in GROUPS:
        ids[group] = [a["id"] for a in selection["archs"] if a["group"] == group]
    return ids


def quality_cells(score: Mapping[str, float], truth: Mapping[str, float],
                  ids: Mapping[str, list[str]]) -> list[str]:
    """``tau / rho / top-5`` over all, the whole-range and the in-band architectures that have both values."""
    cells = []
    for group in ("all", *GROUPS):
        here = [i for i in ids[group] if i in score and i in truth]
        q = rank_quality([score[i] for i in here], [truth[i] for i in here])
        cells.append("-" if math.isnan(q["tau"]) else f"{q['tau']:.2f} / {q['rho']:.2f} / {q['top5']:.1f}"
                     + ("" if len(here) == len(ids[group]) else f" (n={len(here)})"))
    return cells


def ceiling_cell(seeds: Mapping[str, Mapping[int, float]], ids: Mapping[str, list[str]]) -> str:
    """Kendall tau of seed 0 against seed 1 over all / whole-range / in-band architectures."""
    taus = []
    for group in ("all", *GROUPS):
        both = [i for i in ids[group] if all(s in seeds.get(i, {}) for s in SEEDS)]
        q = rank_quality([seeds[i][SEEDS[0]] for i in both], [seeds[i][SEEDS[1]] for i in both])
        taus.append("-" if math.isnan(q["tau"]) else f"{q['tau']:.2f}")
    return " / ".join(taus)


def format_table(out: Path, selection: Mapping[str, Any], order: Sequence[str] = (), folder: str = "truth") -> str:
    """One row per cached supernet (in ``order`` of configuration, then minutes) and per training-free score,
    against the truth in ``OUT/folder``; cells over fewer architectures than the group has say ``n=``."""
    seeds = truth_table(out, selection, folder)
    truth = {i: sum(v.values()) / len(v) for i, v in seeds.items()}  # mean over the seeds done
    ids = group_ids(selection)
    ceiling = ceiling_cell(seeds, ids)
    lines = ["| config | minutes | supernet steps | all: tau / rho / top-5 | whole range | in band | "
             "ceiling: seed-to-seed tau (all / whole / band) |", "|---|--:|--:|---|---|---|---|"]
    for run in cached_runs(out, order):
        wall = (f" ({run['train_wall_s'] / 60:.1f} min wall, {run['train_cpu_s'] / 60:.1f} CPU)"
                if run.get("train_wall_s") and run.get("train_cpu_s") else "")
        lines.append(f"| {run['config']} | {run['minutes']:g} | {run['steps']}{wall} | "
                     f"{' | '.join(quality_cells(run['scores'], truth, ids))} | {ceiling} |")
    base = read_json(out / "baselines.json") or {}
    for key, label in (("macs", "MACs"), ("params", "params"), ("naswot", "NASWOT (Mellor et al. 2021)")):
        score = {i: row[key] for i, row in base.items()}
        cells = quality_cells(score, truth, ids) if score else ["-"] * 3
        lines.append(f"| {label} | - | - | {' | '.join(cells)} | {ceiling} |")
    return "\n".join(lines)


def format_truth(out: Path, selection: Mapping[str, Any]) -> str:
    """How far the truth phase got, the accuracy range per group and the mean seed-to-seed difference."""
    seeds = truth_table(out, selection)
    lines = [f"truth: {sum(len(v) for v in seeds.values())} of {len(SEEDS) * len(selection['archs'])} "
             f"trainings done"]
    for group, ids in group_ids(selection).items():
        means = [sum(seeds[i].values()) / len(seeds[i]) for i in ids if i in seeds]
        gaps = [abs(seeds[i][0] - seeds[i][1]) for i in ids if all(s in seeds.get(i, {}) for s in SEEDS)]
        if means:
            gap = f", mean |seed 0 - seed 1| {sum(gaps) / len(gaps):.2f} points" if gaps else ""
            lines.append(f"  {group}: test top-1 {min(means):.2f}-{max(means):.2f} %{gap}")
    return "\n".join(lines)


def cached_runs(out: Path, order: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The scored supernets in ``OUT/supernets``, in ``order`` of configuration (others last), then by minutes."""
    runs = [read_json(p) for p in (out / "supernets").glob("*/scores.json")]
    rank = {name: i for i, name in enumerate(order)}
    return sorted(runs, key=lambda r: (rank.get(r["config"], len(rank)), r["config"], r["minutes"]))


def format_curves(out: Path, order: Sequence[str] = ()) -> str:
    lines = ["learning curves (mean training loss per tenth of the steps):"]
    for run in cached_runs(out, order):
        lines.append(f"  {run['config']} {run['minutes']:g} min: {' -> '.join(f'{v:.3f}' for v in run['curve'])}")
    return "\n".join(lines)


def print_table(out: Path, order: Sequence[str] = ()) -> None:
    selection = read_json(out / "selection.json")
    if selection is None:
        raise SystemExit(f"{out / 'selection.json'} not found: run the select phase first")
    print(f"budget band [{selection['band_ms'][0]:.3f}, {selection['band_ms'][1]:.3f}] ms predicted "
          f"(space {selection['low_ms']:.3f}-{selection['high_ms']:.3f} ms)\n")
    print(format_table(out, selection, order))
    print()
    print(format_truth(out, selection))
    print(format_curves(out, order))
    if (out / "truth_long").is_dir():  # the same scores against the longer stand-alone recipe, where trained
        long = truth_table(out, selection, "truth_long")
        print(f"\nagainst the longer stand-alone recipe (OUT/truth_long, {sum(map(len, long.values()))} trainings; "
              "cells name n when a group is partly trained):\n")
        print(format_table(out, selection, order, "truth_long"))

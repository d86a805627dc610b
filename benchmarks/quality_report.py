"""The ``table`` phase of ``benchmarks/search_quality.py``: the cached trainings, final measurements and finalist
rows collected into entries, and ``OUT/table.md`` written from them (:mod:`quality_table` formats)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from recipe_ranking import (CHANNELS, CLASSES, SIZE, cached_training, digest, final_recipe_check, read_json,
                            recipe_report, spent)
from quality_cache import budgets_ms, row_path
from quality_table import (REFERENCES, aggregate, flags, format_stage_evidence, format_table, macs_agreement,
                           stage_evidence, verdicts)


def collect(out: Path, args: argparse.Namespace, recipe: str) -> list[dict[str, Any]]:
    """One entry per (seed, budget, network) found in the cache, with its test top-1 under ``recipe`` and its
    final measurement (None where not done yet)."""
    entries = []

    def entry(seed: int, index: int, budget: float, network: str, kind: str, arch: str, **extra: Any) -> None:
        trained = cached_training(out, arch, seed, recipe)
        measured = read_json(out / "measure" / f"{digest(arch)}.json")
        entries.append({"seed": seed, "index": index, "budget_ms": budget, "network": network, "kind": kind,
                        "arch": arch, "test_top1": trained and trained["test_top1"],
                        "measured_ms": measured and measured["ms"], "drift": measured and measured["drift"], **extra})

    for seed in args.seeds:
        for i, budget in enumerate(budgets_ms(out)):
            for method in args.methods:
                row = read_json(row_path(out, seed, method, i))
                if row is not None:
                    entry(seed, i, budget, method, "search", row["arch"], fill=row["fill"], winner=row["winner"],
                          search_s=row["search"]["search_s"], finalist_cpu_s=row["finalist_cpu_s"])
            for family, name in REFERENCES.items():
                ref = read_json(out / "references" / f"{name}_b{i}.json")
                if ref is not None:
                    entry(seed, i, budget, family, "reference", ref["arch"], meets=ref["meets_budget"],
                          label=f"w{ref['width']:g} d{ref['depth']:g}")
    return entries


def stage_rows(out: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every finalist row in the cache for the chosen seeds and methods."""
    found = (read_json(row_path(out, seed, method, i)) for seed in args.seeds
             for i, _ in enumerate(budgets_ms(out)) for method in args.methods)
    return [row for row in found if row is not None]


def phase_table(out: Path, args: argparse.Namespace) -> None:
    from hwnas.arch import decode
    from hwnas.cost.counting import count_macs

    recipe = final_recipe_check(out, args.final_recipe, args.recipe_set, args.min_networks)
    entries = collect(out, args, recipe)
    rows = stage_rows(out, args)

    def macs(arch: str) -> int:
        return count_macs(decode(arch), SIZE, CLASSES, CHANNELS)

    lines = aggregate(entries)
    validation = read_json(out / "lut_fbnet_validation.json")
    cost = spent(out)
    searches = [read_json(p) for p in sorted((out / "search").glob("s*/*/timing.json"))]
    cost["searches"] = {"trainings": len(searches), "cpu_s": sum(t["cpu_s"] for t in searches),
                        "wall_s": sum(t["wall_s"] for t in searches)}
    text = [recipe_report(out, args.recipe_set, args.min_networks), "",
            f"Final recipe: {recipe} ({args.recipe_set[recipe]}); finalist recipe {args.finalists}.",
            "" if validation is None else f"Latency table validated on {validation['n']} other networks: MAPE "
            f"{validation['mape']:.1f} %, {validation['within_5pct']:.0f} % within 5 %.", "",
            format_table(lines), "", *verdicts(lines), "",
            "What the searches' own candidates did in the finalist stage (every pool also holds MobileNetV2's member; "
            "first-round scores, 1 epoch: evidence, not a verdict):", "",
            format_stage_evidence(stage_evidence(rows)), "", f"In the finalist stage, {macs_agreement(rows, macs)}.",
            "", "Outside [0.9 B, B]:",
            *(f"- {f}" for f in flags(entries) or ["none"]), "", "Compute spent (one thread each):",
            *(f"- {name}: {c['trainings']} runs, {c['cpu_s'] / 3600:.2f} CPU-hours ({c['wall_s'] / 3600:.2f} h "
              "wall-clock)" for name, c in sorted(cost.items()))]
    (out / "table.md").write_text("\n".join(text) + "\n")
    print("\n" + "\n".join(text), flush=True)

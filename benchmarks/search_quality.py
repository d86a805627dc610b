"""The standing search-quality benchmark (issue 19, item 4): can an hwnas search show a win?

At each of three latency budgets on Fashion-MNIST (FBNet space, 28 px, 1 channel, width 0.5; ONNX Runtime, 1
thread, batch 1), does the best hwnas method's network (fbnet, tfnas, spos, hardcore) beat random search given
the same compute *and* the best scaled reference network that meets the budget, in mean test top-1 over >= 3
seeds (paired by seed), at <= the budget measured alone? docs/DESIGN.md, "Judging a search honestly".

Phases, each a sub-command; each caches one JSON per result in ``--out`` (written atomically), so a killed run
resumes and a rerun redoes nothing; ``all`` runs them in turn:

* ``lut``: the table, built and calibrated as ``hwnas run``'s lut stage does (``search_methods.build_table``: 3
  build passes, 30 ``mixed`` networks each timed alone, the ``auto`` = ``graph`` kind, validated on 20 others);
  the budgets ``--budgets`` of the way from the lightest to the heaviest network's prediction
  (``OUT/budgets.json``); the drift references' baselines (``OUT/drift.json``): every later measurement is a
  :class:`hwnas.search.measured.DeployedTimer` measurement (each network alone, as deployed, in passes with the
  space's drift references) corrected to the machine as it was then, the drift recorded beside it.
* ``recipe``: the final recipe (``recipe_ranking.py``): 12 networks of the space, 4 per budget (MobileNetV2's
  closest member, deep-and-thin, shallow-and-wide, uniform), trained with the long recipe (10 epochs, full split,
  augmentation) and the cheap ones (``e3``: 3 epochs; ``e5_24k``: 5 epochs on 24k images); Kendall tau and
  Spearman rho between them. ``--final-recipe NAME`` is refused until NAME reached tau >= 0.8 on >= 12 networks.
* ``references``: MobileNetV2, MobileNetV3-Large and MnasNet-A1 scaled in width and depth, per budget the one
  with the most MACs that meets it measured (:func:`hwnas.scaled_references.scale_to_budget`); and the space's
  member closest to MobileNetV2, filled into ``[0.9 B, 0.97 B]`` measured, the finalist stage's reference entry.
* ``search``: per seed x method x budget, ``hwnas.search.search`` with ``search_methods.SETTINGS`` on 6,000
  images (spos, random and hardcore search budgets 2 and 3 from the supernet of budget 1); random search scores
  as many candidates as spos's evolution on the same supernet.
* ``finalists``: per search, ``hwnas run``'s finalist stage made of the same library calls: the result's
  ``finalist_pool`` (its top ``count`` candidates) plus the MobileNetV2 member
  (:func:`hwnas.search.finalists.finalist_entries`), each moved into ``[0.9 B, 0.97 B]`` measured
  (:func:`hwnas.search.filling.fill_measured` with the result's preference), then
  :func:`hwnas.search.finalists.successive_halving` with the finalist recipe (rounds of 1 and 3 epochs on 24k
  images, scored on the held-out tenth, ``val_top1``, never the test split). Random search goes through the same
  stage: the same compute. ``OUT/rows/sSEED_METHOD_bI.json``: search time, every finalist with its scores and
  fill steps, the winner and its measured latency.
* ``train``: every winner and every scaled reference trained with the final recipe, seed of the row (the same
  seeds for every network: differences are paired); test top-1. Queues started side by side share the work
  (each training is claimed by a lock file while it runs).
* ``measure``: every final network timed alone as deployed (DeployedTimer, 5 passes), 3 times in turns across
  the networks (``--final-measurements``) and pooled, drift recorded; a pooled value over its budget is measured
  once more before the table acts on it.
* ``table``: per budget and network, mean +- std over seeds of test top-1 and measured latency, the fraction of
  the budget used, the paired difference to random search and to the best in-budget reference with its sign on
  each seed; one rule for every row: **a network measured over its budget cannot win**; a verdict per budget;
  every search result measured outside ``[0.9 B, B]`` flagged with the filling's reason.

**Planned compute** (core-hours of this CPU, one thread per process; a long-recipe training is ~18 min at ~500
images/s, heavier networks slower): lut 0.3; recipe 12 x (18 + 5.4 + 3.6 min) = 5.4; references 0.2; search
45 searches of 1.5-3.5 min = 1.5; finalists 45 stages, per seed and budget ~46 epoch-trainings of 0.72 min (15
candidates x 1 epoch, 10 x 3 epochs, the shared reference member once) = 9 x 33 min = 5; train 3 seeds x 3
budgets x (5 methods + 3 references) = 72 trainings (fewer where rows share a network): 6.5 with ``e3``, 4.3
with ``e5_24k``, 21.6 with ``long``; measure 0.1. Total: ~19 core-hours with a cheap final recipe (about 10 hours
of this 2-core machine, two processes in parallel), ~34 with the long one (over the plan: run ``recipe`` first).
In the recorded run no cheap recipe ranked like ``long`` (docs/BENCHMARKS.md, issue 19: ``e3`` tau 0.72 on 9
networks, ``e5`` 0.60 on 6, ``e5_24k`` 0.44), so its final trainings use ``long``; with the measured training
speed (1,300-1,600 images/s alone) that is ~10-12 core-hours for ``train``.

    .venv/bin/python benchmarks/search_quality.py lut
    .venv/bin/python benchmarks/search_quality.py recipe --recipes long           # and, in parallel:
    .venv/bin/python benchmarks/search_quality.py recipe --recipes e3 e5_24k
    .venv/bin/python benchmarks/search_quality.py references
    .venv/bin/python benchmarks/search_quality.py search --seeds 0                 # and --seeds 1 2 in parallel
    .venv/bin/python benchmarks/search_quality.py finalists --seeds 0              # and --seeds 1 2 in parallel
    .venv/bin/python benchmarks/search_quality.py train --final-recipe e3 --seeds 0  # a recipe shown to rank
    .venv/bin/python benchmarks/search_quality.py measure
    .venv/bin/python benchmarks/search_quality.py table --final-recipe e3
    .venv/bin/python benchmarks/search_quality.py --quick all                      # a smoke run, minutes

Modules beside this one: ``quality_cache`` (the cache layout and shared pieces), ``quality_finalists``,
``quality_measure`` and ``quality_report`` (the finalists, measure and table phases), ``quality_table`` (the
table's pure functions), ``recipe_ranking`` (the recipes, cached trainings and the recipe check).

Measuring phases (lut, references, measure) want the machine as quiet as it gets; the drift references correct
what is left. Everything trains with one torch thread (``--threads``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from recipe_ranking import (CHANNELS, CLASSES, DATASET, LONG, MIN_NETWORKS, QUICK_RECIPES, RECIPE_SEED,  # beside
                            RECIPES, SIZE, check_settings, final_recipe_check, read_json, recipe_networks,
                            recipe_report, train_cached, write_json)
from quality_cache import (MEMBER, budgets_ms, deployed_timer, encode_choice, final_networks, lut_path, predictor,
                           search_dir, the_space, timed)
from quality_finalists import phase_finalists
from quality_measure import phase_measure
from quality_report import phase_table
from quality_table import METHODS, REFERENCES

FINALISTS = {"count": 3, "epochs": [1, 3], "limit": 24000, "keep": 0.5, "fill_rounds": 4}
QUICK_FINALISTS = {"count": 2, "epochs": [1, 2], "limit": 600, "keep": 0.5, "fill_rounds": 2}
PHASES = ("lut", "recipe", "references", "search", "finalists", "train", "measure", "table")


# ------------------------------------------------------------------------------------------------ lut
def phase_lut(out: Path, args: argparse.Namespace) -> None:
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.cost.separable import SeparableCost
    from hwnas.search.measured import DeployedTimer, drift_references

    from search_methods import build_table

    if not lut_path(out).is_file() or LatencyTable.load(lut_path(out)).calibration is None:
        build_table("fbnet", args.width_mult, out, args.calibrate, args.rounds, args.passes, args.validate)
    space = the_space(args)
    if read_json(out / "budgets.json") is None:
        separable = SeparableCost(LatencyTable.load(lut_path(out)), space)
        low, high = separable.minimum(largest_widths=True), separable.cost(space.heaviest())
        write_json(out / "budgets.json", {"fractions": args.budgets, "low_ms": low, "high_ms": high,
                                          "budgets_ms": [round(low + f * (high - low), 4) for f in args.budgets]})
    if read_json(out / "drift.json") is None:
        refs = drift_references(space)
        with tempfile.TemporaryDirectory(prefix="search_quality_") as work:
            timer = DeployedTimer.from_table(lut_path(out), work, passes=args.decision_passes, references=refs,
                                             rounds=args.measure_rounds)
            timer(refs[0], Path(work) / "first.onnx")  # sets the baselines: the machine as it is now
        write_json(out / "drift.json", {"references": refs, "baselines_ms": list(timer.baselines),
                                        "timer": timer.describe(), "log": timer.log})
    saved = read_json(out / "budgets.json")
    print(f"[budgets {saved['budgets_ms']} ms: predicted latency of the space {saved['low_ms']:.3f}-"
          f"{saved['high_ms']:.3f} ms]", flush=True)


# ------------------------------------------------------------------------------------------------ recipe
def phase_recipe(out: Path, args: argparse.Namespace) -> None:
    selection = read_json(out / "recipe" / "selection.json")
    if selection is None:
        space = the_space(args)
        selection = recipe_networks(space, predictor(out, space), budgets_ms(out), seed=RECIPE_SEED)
        write_json(out / "recipe" / "selection.json", selection)
    for name in args.recipes or list(args.recipe_set):
        for net in selection:
            train_cached(out, net["arch"], RECIPE_SEED, name, args.recipe_set[name],
                         announce=lambda line, n=net: print(f"{line} ({n['id']})", flush=True))
    print(recipe_report(out, args.recipe_set, args.min_networks), flush=True)


# ------------------------------------------------------------------------------------------------ references
def phase_references(out: Path, args: argparse.Namespace) -> None:
    from hwnas import zoo
    from hwnas.scaled_references import scale_to_budget
    from hwnas.search.filling import fill_measured
    from hwnas.search.finalists import reference_member, reference_scores

    space = the_space(args)
    predict = predictor(out, space)
    with deployed_timer(out, args, args.decision_passes) as timer:
        for i, budget in enumerate(budgets_ms(out)):
            for family, name in REFERENCES.items():
                path = out / "references" / f"{name}_b{i}.json"
                if read_json(path) is None:
                    scaled = scale_to_budget(zoo.get(name).spec, budget, lambda arch: timed(timer, out, arch).ms,
                                             input_size=SIZE, num_classes=CLASSES, in_channels=CHANNELS)
                    write_json(path, {"family": family, "zoo": name, "index": i, **scaled})
                ref = read_json(path)
                print(f"[reference {family} at {budget:.3f} ms: w{ref['width']:g} d{ref['depth']:g}, "
                      f"{ref['measured_ms']:.3f} ms" + ("" if ref["meets_budget"] else ", none meets it") + "]",
                      flush=True)
            path = out / "references" / f"member_b{i}.json"
            if read_json(path) is None:
                member = reference_member(space, zoo.get(MEMBER).spec)
                filled = fill_measured(space, member, predict, lambda c: timed(timer, out, encode_choice(space, c)),
                                       budget, reference_scores(space, member), rounds=args.finalists["fill_rounds"])
                write_json(path, {"name": f"ref:{MEMBER}", "start": member, **filled.to_json()})
            record = read_json(path)
            print(f"[member of {MEMBER} at {budget:.3f} ms: {record['measured_ms']:.3f} ms, "
                  f"{100 * record['fraction']:.0f} % of the budget]", flush=True)


# ------------------------------------------------------------------------------------------------ search
def phase_search(out: Path, args: argparse.Namespace) -> None:
    from hwnas.search import Budgets, search
    from hwnas.search.closed_loop import has_search_state

    from search_methods import ONESHOT, QUICK, SETTINGS

    for seed in args.seeds:
        for method in args.methods:
            for i, budget in enumerate(budgets_ms(out)):
                where = search_dir(out, seed, method, i)
                if (where / "result.json").is_file():
                    continue
                reuse = search_dir(out, seed, method, 0) if method in ONESHOT and i > 0 else None
                settings = {**SETTINGS[method], **(QUICK[method] if args.quick else {})}
                wall, cpu = time.perf_counter(), time.process_time()
                result = search(method, "fbnet", DATASET, out=where, lut=lut_path(out),
                                budgets=Budgets(max_latency_ms=budget), overrides=settings,
                                width_mult=args.width_mult, limit=args.limit, progress=False, tensorboard=False,
                                from_supernet=reuse, seed=seed, resume=has_search_state(where))
                timing = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                          "from_supernet": reuse is not None, "settings": settings}
                write_json(where / "timing.json", timing)
                print(f"[search seed {seed} {method} at {budget:.3f} ms: {result.predicted_latency_ms:.3f} ms "
                      f"predicted, {timing['wall_s']:.0f} s" + (" (from supernet)" if reuse else "") + "]",
                      flush=True)


# ------------------------------------------------------------------------------------------------ train


def phase_train(out: Path, args: argparse.Namespace) -> None:
    name = final_recipe_check(out, args.final_recipe, args.recipe_set, args.min_networks)
    for seed, _, label, arch in final_networks(out, args):
        train_cached(out, arch, seed, name, args.recipe_set[name], share=True,
                     announce=lambda line, what=label: print(f"{line} ({what})", flush=True))


# ------------------------------------------------------------------------------------------------ main
# Defaults of the real run, and (second value) of --quick.
DEFAULTS = {"seeds": ([0, 1, 2], [0]), "budgets": ([0.15, 0.35, 0.6], [0.35]), "limit": (6000, 1000),
            "calibrate": (30, 8), "rounds": (50, 10), "passes": (3, 1), "validate": (20, 4),
            "measure_rounds": (100, 20), "decision_passes": (3, 3), "final_passes": (5, 3),
            "final_measurements": (3, 1)}
FIXED = {"threads": 1, "methods": list(METHODS), "width_mult": 0.5, "final_recipe": LONG}


def common_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--out", help="cache folder (default runs/bench_quality; --quick: runs/bench_quality_quick)")
    add("--quick", action="store_true", help="a smoke run of every phase: 1 seed, 1 budget, tiny trainings")
    add("--threads", type=int, help="torch threads (1)")
    add("--seeds", type=int, nargs="+", help="seeds (0 1 2): searches, finalist and final trainings")
    add("--methods", nargs="+", choices=METHODS, help="methods (all five)")
    add("--budgets", type=float, nargs="+", help="budgets as fractions of the way from the lightest to the "
                                                 "heaviest network's predicted latency (0.15 0.35 0.6)")
    add("--width-mult", type=float, help="width multiplier of the space (0.5)")
    add("--limit", type=int, help="training images of each search (6000)")
    add("--calibrate", type=int, help="networks the table is calibrated on (30)")
    add("--rounds", type=int, help="timed rounds per op of the table (50)")
    add("--passes", type=int, help="table build passes (3)")
    add("--validate", type=int, help="other networks the table is validated on (20)")
    add("--measure-rounds", type=int, help="timed rounds of a network per pass (100)")
    add("--decision-passes", type=int, help="passes of the measurements that decide (fill, references; 3)")
    add("--final-passes", type=int, help="passes of each final measurement (5)")
    add("--final-measurements", type=int, help="final measurements of each network, taken in turns across the "
                                               "networks and pooled (3)")
    add("--final-recipe", help="the recipe of the final trainings: long (the default), or a cheap one the recipe "
                               "phase showed to rank like it")
    add("--recipes", nargs="+", help="the recipe phase: train only these recipes (default all)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_options(parser)
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common_options(common)  # options before or after the sub-command's name, neither resetting the other
    sub = parser.add_subparsers(dest="command", required=True)
    for phase in (*PHASES, "all"):
        sub.add_parser(phase, parents=[common])
    args = parser.parse_args(argv)
    for key, (real, quick) in DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, quick if args.quick else real)
    for key, value in FIXED.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    args.out = Path(args.out or ("runs/bench_quality_quick" if args.quick else "runs/bench_quality"))
    args.recipe_set = QUICK_RECIPES if args.quick else RECIPES
    args.finalists = QUICK_FINALISTS if args.quick else FINALISTS
    args.min_networks = 4 if args.quick else MIN_NETWORKS  # the smoke run checks the mechanics on 4 networks
    for name in [args.final_recipe, *(args.recipes or [])]:
        if name not in args.recipe_set:
            parser.error(f"unknown recipe {name!r}; valid: {', '.join(args.recipe_set)}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, {"quick": args.quick, "width_mult": args.width_mult, "budgets": args.budgets,
                         "limit": args.limit, "calibrate": args.calibrate, "rounds": args.rounds,
                         "passes": args.passes, "recipes": args.recipe_set, "finalists": args.finalists,
                         "measure_rounds": args.measure_rounds, "decision_passes": args.decision_passes,
                         "final_passes": args.final_passes})
    if args.command != "table":
        import torch

        torch.set_num_threads(args.threads)
    phases = {"lut": phase_lut, "recipe": phase_recipe, "references": phase_references, "search": phase_search,
              "finalists": phase_finalists, "train": phase_train, "measure": phase_measure, "table": phase_table}
    for phase in PHASES if args.command == "all" else (args.command,):
        started = time.perf_counter()
        phases[phase](out, args)
        print(f"[phase {phase} done in {time.perf_counter() - started:.0f} s]", flush=True)


if __name__ == "__main__":
    main()

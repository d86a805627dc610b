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

Measuring phases (lut, references, measure) want the machine as quiet as it gets; the drift references correct
what is left. Everything trains with one torch thread (``--threads``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recipe_ranking import (CHANNELS, CLASSES, DATASET, LONG, MIN_NETWORKS, QUICK_RECIPES, RECIPE_SEED,  # beside
                            RECIPES, SIZE, cached_training, check_settings, digest, final_recipe_check, read_json,
                            recipe_networks, recipe_report, spent, train_cached, write_json)
from quality_table import (METHODS, REFERENCES, aggregate, can_win, flags,  # noqa: F401 (can_win: tests)
                           format_stage_evidence, format_table, macs_agreement, stage_evidence, verdicts)

MEMBER = "mobilenetv2_100"  # the finalist stage's reference entry (hwnas run's default finalists.references)
FINALISTS = {"count": 3, "epochs": [1, 3], "limit": 24000, "keep": 0.5, "fill_rounds": 4}
QUICK_FINALISTS = {"count": 2, "epochs": [1, 2], "limit": 600, "keep": 0.5, "fill_rounds": 2}
PHASES = ("lut", "recipe", "references", "search", "finalists", "train", "measure", "table")


# ------------------------------------------------------------------------------------------------ shared
def lut_path(out: Path) -> Path:
    return out / "lut_fbnet.json"


def the_space(args: argparse.Namespace) -> Any:
    from hwnas.space import get_space

    return get_space("fbnet", SIZE, CHANNELS, CLASSES, args.width_mult)


def predictor(out: Path, space: Any) -> Any:
    from hwnas.cost.latency.table import LatencyTable

    table = LatencyTable.load(lut_path(out))
    return lambda choice: float(table.predict(space.to_spec(choice)))


def budgets_ms(out: Path) -> list[float]:
    saved = read_json(out / "budgets.json")
    if saved is None:
        raise SystemExit(f"{out} has no budgets yet: run the lut phase first")
    return saved["budgets_ms"]


def encode_choice(space: Any, choice: Mapping[str, Any]) -> str:
    from hwnas.arch import encode

    return encode(space.to_spec(choice))


@contextmanager
def deployed_timer(out: Path, args: argparse.Namespace, passes: int) -> Iterator[Any]:
    """A DeployedTimer with the table's settings, the run's drift references and their baselines of the lut
    phase (every phase's measurements are corrected to the same machine state)."""
    from hwnas.search.measured import DeployedTimer

    drift = read_json(out / "drift.json")
    with tempfile.TemporaryDirectory(prefix="search_quality_") as work:  # each process exports its own references
        yield DeployedTimer.from_table(lut_path(out), work, passes=passes, references=drift["references"],
                                       baselines=drift["baselines_ms"], rounds=args.measure_rounds)


def timed(timer: Any, out: Path, arch: str) -> Any:
    """``arch`` timed alone as deployed: a drift-corrected Measurement (its ONNX file named by its digest)."""
    return timer(arch, out / "onnx" / f"{digest(arch)}.onnx")


def search_dir(out: Path, seed: int, method: str, index: int) -> Path:
    return out / "search" / f"s{seed}" / f"{method}_b{index}"


def row_path(out: Path, seed: int, method: str, index: int) -> Path:
    return out / "rows" / f"s{seed}_{method}_b{index}.json"


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


# ------------------------------------------------------------------------------------------------ finalists
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


# ------------------------------------------------------------------------------------------------ train, measure
def final_networks(out: Path, args: argparse.Namespace) -> list[tuple[int, int, str, str]]:
    """``(seed, budget index, label, arch)`` of every network the table judges: the rows' winners and the
    references."""
    jobs = []
    for seed in args.seeds:
        for i, _ in enumerate(budgets_ms(out)):
            for method in args.methods:
                row = read_json(row_path(out, seed, method, i))
                if row is not None:
                    jobs.append((seed, i, f"{method} b{i}", row["arch"]))
            for family, name in REFERENCES.items():
                ref = read_json(out / "references" / f"{name}_b{i}.json")
                if ref is not None:
                    jobs.append((seed, i, f"{family} b{i}", ref["arch"]))
    return jobs


def phase_train(out: Path, args: argparse.Namespace) -> None:
    name = final_recipe_check(out, args.final_recipe, args.recipe_set, args.min_networks)
    for seed, _, label, arch in final_networks(out, args):
        train_cached(out, arch, seed, name, args.recipe_set[name], share=True,
                     announce=lambda line, what=label: print(f"{line} ({what})", flush=True))


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
        parts = [Measurement.from_passes(m["passes_ms"], m["drift_passes"]) for m in record["measurements"]]
        total = parts[0]
        for part in parts[1:]:
            total = total.pooled(part)
        return total

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


# ------------------------------------------------------------------------------------------------ table
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

"""How well does a supernet rank architectures? Kendall tau, Spearman rho and top-5 overlap against stand-alone
training (issue 18, item 6).

The FBNet space at 28 px, 1 channel, 10 classes, width 0.5 (Fashion-MNIST). Phases, each a sub-command, each
caching one JSON file per result in ``--out`` (written atomically: a killed run resumes, a rerun retrains nothing):

* ``select``: the ONNX Runtime latency table (1 thread, batch 1), built and calibrated as
  ``search_methods.build_table`` does (once, ``OUT/lut_fbnet.json``), then 24 architectures, seeded: 12 spread
  over the whole predicted-latency range (one per twelfth of [lightest, heaviest]) and 12 inside the budget band
  [0.7 B, B], B ``--band-fraction`` of the way from the lightest to the heaviest network's predicted latency (as
  ``search_quality.py`` places its budgets), spread over the band. Candidates come from a pool of uniform members,
  light ones (``spread``: a random share of skips) and heavy ones (a random share of the heaviest op);
  ``OUT/selection.json``.
* ``truth``: every architecture trained stand-alone with one fixed recipe, seeds 0 and 1
  (``OUT/truth/ID_sSEED.json``, as soon as each finishes). **The recipe** (``TRUTH``): ``hwnas.workflows.train``'s
  ``train_arch`` on the first 24,000 images of a seeded shuffle of the training split (10 % of them held out for
  its per-epoch validation), 2 epochs at batch 128 (338 steps), SGD with Nesterov momentum, lr 0.1 after a linear
  warm-up over the first quarter epoch, cosine to 0, label smoothing 0.1, no augmentation; test top-1 on the
  whole 10,000-image test split. The seed sets the subset, the batch order and the initialisation, so the
  seed-to-seed agreement covers all three. Why this recipe: 170 steps (2 epochs of 12,000 images, lr 0.05) left
  the lightest selected network (1.2M MACs, 20 of 22 layers skipped), a mid-range one (3.7M) and the heaviest
  (12.7M) at 80.3, 79.9 and 81.4 % test top-1, i.e. indistinguishable; lr 0.2 diverged; 338 steps at lr 0.1 took
  the lightest and the mid-range one to 83.4 and 84.2 % (lr 0.05: 82.6 and 83.3 %). Measured on one thread of this CPU: the
  mid-range network (b05) trains in 50 s of CPU time (61-73 s wall-clock on the shared machine); a training
  step costs 0.07 s (the lightest selected network) to 1.25 s (the heaviest) of CPU time on a loaded machine,
  about 0.6 of that alone, so the 48 trainings take about 70 minutes of one core.
* ``truth-long [--group band] [--seeds 0]``: the same architectures with the longer recipe ``LONG_TRUTH`` (6
  epochs instead of 2, same images), in ``OUT/truth_long``; ``table`` then also prints every row against it.
  Does the band's preference for skip-heavy networks survive longer training? (About 4 minutes of one core per
  training: 50 minutes for the band, one seed.)
* ``supernet --config NAME --minutes M``: a supernet trained for M minutes of wall-clock on the whole weight
  split (48,000 images, batch 128) by the public route, ``hwnas.search.search("spos", ...)`` with the
  configuration's overrides and a one-candidate evolution phase: a short probe measures the configuration's
  step time in CPU seconds of its one thread (what a step takes on an idle core, so that the step count does not
  depend on what else loads the shared machine), then that many steps run with the normal cosine schedule (in 10 x k epochs, so the per-epoch losses
  give the learning curve by tenths). Then each architecture's score: arch-split top-1 (``--score-batches``
  batches) after recalibrating its path's BN statistics on ``--recal-batches`` weight-split batches
  (``engine.score_choice``). ``OUT/supernets/NAME_Mm/scores.json``. The configurations (``CONFIGS``):
  ``independent-uniform`` (the spos default), ``entangled-uniform``, ``entangled-sandwich-distill`` (with the
  zero-initialised residual branches and a learning-rate warm-up over 5 % of the steps), and the path samplers
  ``best-constrained`` and ``best-strolling`` on top of the latter, training inside the band's budget B. Every
  search is given the budget B; only those two samplers use it.
* ``baselines``: MACs, params (``hwnas.cost.counting``) and NASWOT (Mellor et al. 2021,
  :mod:`hwnas.search.parts.zero_cost`; mean over 3 initialisations, one batch of 128 training images).
* ``table``: the markdown table from whatever is cached ("-" where a cell is missing), and each supernet's
  learning curve (mean training loss per tenth of its steps). The truth is the mean of the two seeds; the
  ceiling beside every row is the two seeds' own tau (seed 0 against seed 1).

    .venv/bin/python benchmarks/supernet_ranking.py select
    nohup .venv/bin/python benchmarks/supernet_ranking.py truth > runs/bench_ranking/truth.log 2>&1 &
    .venv/bin/python benchmarks/supernet_ranking.py supernet --config independent-uniform --minutes 10
    .venv/bin/python benchmarks/supernet_ranking.py baselines
    .venv/bin/python benchmarks/supernet_ranking.py table
    .venv/bin/python benchmarks/supernet_ranking.py --quick all   # a smoke run of every phase, minutes

Modules beside this one: ``ranking_settings`` (space, recipes, supernet configurations, cache helpers),
``ranking_supernets`` (the supernet phase: training for a wall-clock budget, curves, scoring) and
``ranking_report`` (the table).

Everything runs with one torch thread (``--threads``).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ranking_report import SEEDS, print_table, read_json  # beside this file
from ranking_settings import (CONFIGS, DATASET, LONG_TRUTH, QUICK_TRUTH, SPACE, TRUTH, check_settings,
                              the_space, write_json)
from ranking_supernets import train_and_score


# ------------------------------------------------------------------------------------------------ select
def latency_model(out: Path, args: argparse.Namespace) -> Any:
    """The calibrated latency table of the space (built once into ``OUT/lut_fbnet.json``) as the search's
    separable latency cost (what a budget constrains)."""
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.cost.separable import SeparableCost

    path = out / f"lut_{SPACE[0]}.json"
    if not path.is_file() or LatencyTable.load(path).calibration is None:
        from search_methods import build_table  # beside this file: the same table as the search benchmarks

        out.mkdir(parents=True, exist_ok=True)
        build_table(SPACE[0], SPACE[4], out, args.calibrate, args.rounds)
    return SeparableCost(LatencyTable.load(path), the_space())


def heavy_draw(space: Any, rng: random.Random) -> dict[str, Any]:
    """A member leaning heavy: a share ``h ~ U(0, 1)`` of its decisions take the heaviest op, the rest uniform."""
    heaviest, share = space.heaviest(), rng.random()
    return {label: heaviest[label] if rng.random() < share else value for label, value in space.sample(rng).items()}


def candidate_pool(space: Any, size: int, seed: int) -> list[dict[str, Any]]:
    """``size`` distinct members: uniform, light (``spread``) and heavy draws in turn, seeded."""
    from hwnas.cost.latency.sampled_nets import draw_choice

    rng, pool, seen = random.Random(seed), [], set()
    draws = (space.sample, lambda r: draw_choice(space, r, "spread"), lambda r: heavy_draw(space, r))
    for i in range(50 * size):
        choice = draws[i % len(draws)](rng)
        key = tuple(sorted(choice.items()))
        if key not in seen:
            seen.add(key)
            pool.append(choice)
        if len(pool) == size:
            break
    return pool


def pick_near(pool: Sequence[Mapping[str, Any]], latency: Sequence[float], targets: Sequence[float],
              taken: set[int], low: float = -math.inf, high: float = math.inf) -> list[int]:
    """For each target, the pool member nearest to it in latency within [low, high] and not taken yet."""
    picked = []
    for target in targets:
        free = [i for i in range(len(pool)) if i not in taken and low <= latency[i] <= high]
        if not free:
            raise ValueError(f"no pool member left in [{low:.4f}, {high:.4f}] ms: enlarge --pool")
        best = min(free, key=lambda i: (abs(latency[i] - target), i))
        taken.add(best)
        picked.append(best)
    return picked


def select(out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The 24 (``--quick``: 6) architectures, chosen once and saved in ``OUT/selection.json``."""
    saved = read_json(out / "selection.json")
    if saved is not None:
        return saved
    from hwnas.arch import encode

    space, latency = the_space(), latency_model(out, args)
    low, high = latency.minimum(largest_widths=True), latency.cost(space.heaviest())
    budget = low + args.band_fraction * (high - low)
    pool = candidate_pool(space, args.pool, args.seed)
    ms = [latency.cost(c) for c in pool]
    n, taken = args.per_group, set()
    whole = pick_near(pool, ms, [low + (i + 0.5) / n * (high - low) for i in range(n)], taken)
    band = pick_near(pool, ms, [budget * (0.7 + 0.3 * (i + 0.5) / n) for i in range(n)], taken,
                     0.7 * budget, budget)
    archs = []
    for group, picked in (("whole", whole), ("band", band)):
        for j, i in enumerate(picked):
            spec = space.to_spec(pool[i])
            archs.append({"id": f"{group[0]}{j:02d}", "group": group, "choice": pool[i], "arch": encode(spec),
                          "predicted_ms": ms[i], **counts(spec)})
    selection = {"space": list(SPACE), "seed": args.seed, "pool": args.pool, "low_ms": low, "high_ms": high,
                 "band_fraction": args.band_fraction, "budget_ms": budget, "band_ms": [0.7 * budget, budget],
                 "archs": archs}
    write_json(out / "selection.json", selection)
    print(f"[selected {len(archs)} architectures: predicted latency {low:.3f}-{high:.3f} ms, band "
          f"[{0.7 * budget:.3f}, {budget:.3f}] ms]", flush=True)
    return selection


def counts(spec: Any) -> dict[str, int]:
    from hwnas.cost.counting import count_macs, count_params

    _, size, channels, classes, _ = SPACE
    return {"macs": count_macs(spec, size, classes, channels), "params": count_params(spec, classes, channels)}


# ------------------------------------------------------------------------------------------------ truth
def train_truth(arch: Mapping[str, Any], seed: int, out: Path, recipe: Mapping[str, Any],
                folder: str = "truth") -> dict[str, Any]:
    """One stand-alone training (the recipe of the module docstring), cached in ``OUT/FOLDER/ID_sSEED.json``."""
    path = out / folder / f"{arch['id']}_s{seed}.json"
    done = read_json(path)
    if done is not None:
        return done
    from hwnas.arch import decode
    from hwnas.workflows.train import train_arch

    started = time.perf_counter()
    # resume: a training killed part-way continues from its last checkpoint to the same weights
    metrics = train_arch(decode(arch["arch"]), DATASET, out / folder / f"{arch['id']}_s{seed}", seed=seed,
                         **recipe, adapt=False, augment=False, progress=False,
                         tensorboard=False, resume=True)
    row = {"id": arch["id"], "seed": seed, "test_top1": float(metrics["top1"]), "val_top1": metrics["val_top1"],
           "steps": metrics["steps"], "wall_s": time.perf_counter() - started, "recipe": dict(recipe)}
    write_json(path, row)
    return row


def truth(out: Path, args: argparse.Namespace, selection: Mapping[str, Any]) -> None:
    recipe = QUICK_TRUTH if args.quick else TRUTH
    for seed in SEEDS:  # seed 0 of every architecture first: half the phase already gives a ranking
        for arch in selection["archs"]:
            row = train_truth(arch, seed, out, recipe)
            print(f"[truth {arch['id']} seed {seed}: test top-1 {row['test_top1']:.2f} % in {row['wall_s']:.0f} s "
                  f"({arch['predicted_ms']:.3f} ms predicted, {arch['macs'] / 1e6:.2f}M MACs)]", flush=True)


def truth_long(out: Path, args: argparse.Namespace, selection: Mapping[str, Any]) -> None:
    """The longer recipe (LONG_TRUTH) on ``--group``'s architectures, for ``--seeds``; cached in OUT/truth_long."""
    recipe = QUICK_TRUTH if args.quick else LONG_TRUTH
    for seed in args.seeds:
        for arch in selection["archs"]:
            if args.group != "all" and arch["group"] != args.group:
                continue
            row = train_truth(arch, seed, out, recipe, "truth_long")
            print(f"[truth-long {arch['id']} seed {seed}: test top-1 {row['test_top1']:.2f} % in "
                  f"{row['wall_s']:.0f} s]", flush=True)


# ------------------------------------------------------------------------------------------------ baselines
def baselines(out: Path, selection: Mapping[str, Any], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """MACs, params and NASWOT (mean over ``args.naswot_inits`` initialisations) per architecture; cached."""
    path = out / "baselines.json"
    saved = read_json(path)
    if saved is not None:
        return saved
    import torch

    from hwnas.arch import decode
    from hwnas.nn import build_model
    from hwnas.search.context import search_loaders
    from hwnas.search.parts.engine import batches
    from hwnas.search.parts.zero_cost import naswot_score

    _, _, channels, classes, _ = SPACE
    x = batches(search_loaders(DATASET, args.naswot_batch, seed=args.seed, progress=False).train, 1)[0][0]
    rows = {}
    for arch in selection["archs"]:
        values = []
        for init in range(args.naswot_inits):
            torch.manual_seed(init)
            values.append(naswot_score(build_model(decode(arch["arch"]), classes, channels), x))
        rows[arch["id"]] = {"macs": arch["macs"], "params": arch["params"], "naswot": sum(values) / len(values)}
    write_json(path, rows)
    return rows


# ------------------------------------------------------------------------------------------------ main
# Defaults of the real run, and (second value) of --quick.
DEFAULTS = {"band_fraction": (0.5, 0.5), "pool": (3000, 300), "per_group": (12, 3), "calibrate": (30, 8),
            "rounds": (50, 10), "probe_steps": (15, 3), "recal_batches": (8, 2), "score_batches": (40, 2),
            "supernet_limit": (None, 2000), "naswot_inits": (3, 1), "naswot_batch": (128, 32),
            "minutes": ([10.0, 30.0], [0.2]), "configs": (["independent-uniform"], ["independent-uniform"])}


def common_options(parser: argparse.ArgumentParser) -> None:
    """The options every sub-command takes, before or after its name."""
    add = parser.add_argument
    add("--out", default=None, help="cache folder (default runs/bench_ranking; --quick: runs/bench_ranking_quick)")
    add("--quick", action="store_true", help="everything tiny (6 architectures, seconds of training): a smoke run")
    add("--threads", type=int, default=1, help="torch threads")
    add("--seed", type=int, default=0, help="architecture selection and supernet seed")
    add("--band-fraction", type=float, help="B: this fraction of the way from the lightest to the heaviest "
                                            "network's predicted latency (default 0.5)")
    add("--pool", type=int, help="candidates the architectures are picked from (3000)")
    add("--per-group", type=int, help="architectures per group, whole range and band (12)")
    add("--calibrate", type=int, help="networks the latency table is calibrated on (30)")
    add("--rounds", type=int, help="timed rounds of the latency table (50)")
    add("--probe-steps", type=int, help="steps per probe epoch, to measure the step time (15)")
    add("--recal-batches", type=int, help="BN recalibration batches per scored architecture (8)")
    add("--score-batches", type=int, help="arch-split batches of 128 each score uses (40)")
    add("--supernet-limit", type=int, help="training images of the supernet's search (all)")
    add("--naswot-inits", type=int, help="initialisations NASWOT is averaged over (3)")
    add("--naswot-batch", type=int, help="images in NASWOT's batch (128)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_options(parser)
    # The sub-commands take the same options without defaults of their own, so that an option given before the
    # sub-command's name is not reset by it.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common_options(common)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("select", parents=[common], help="build the latency table, pick and save the architectures")
    sub.add_parser("truth", parents=[common], help="stand-alone training of every architecture, seeds 0 and 1")
    longer = sub.add_parser("truth-long", parents=[common], help="the longer stand-alone recipe (LONG_TRUTH)")
    longer.add_argument("--group", choices=["band", "whole", "all"], default="band")
    longer.add_argument("--seeds", type=int, nargs="+", default=[0])
    net = sub.add_parser("supernet", parents=[common], help="train one supernet configuration, score on it")
    net.add_argument("--config", required=True, choices=list(CONFIGS))
    net.add_argument("--minutes", type=float, required=True, help="wall-clock minutes of supernet training")
    sub.add_parser("baselines", parents=[common], help="MACs, params and NASWOT of every architecture")
    sub.add_parser("table", parents=[common], help="print the table from the cache")
    every = sub.add_parser("all", parents=[common], help="every phase in turn (with --quick: the smoke run)")
    every.add_argument("--minutes", type=float, nargs="+", help="supernet budgets (10 30)")
    every.add_argument("--configs", nargs="+", choices=list(CONFIGS), help="supernet configurations")
    args = parser.parse_args(argv)
    for key, (real, quick) in DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, quick if args.quick else real)
    args.out = Path(args.out or ("runs/bench_ranking_quick" if args.quick else "runs/bench_ranking"))
    return args


def main(argv: Sequence[str] | None = None) -> None:
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out
    recipe = QUICK_TRUTH if args.quick else TRUTH
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, {"quick": args.quick, "recipe": recipe})
    if args.command == "table":
        print_table(out, list(CONFIGS))
        return
    selection = select(out, args)
    if args.command in ("truth", "all"):
        truth(out, args, selection)
    if args.command == "truth-long":
        truth_long(out, args, selection)
    if args.command in ("baselines", "all"):
        baselines(out, selection, args)
    if args.command == "supernet":
        train_and_score(out, args.config, args.minutes, selection, args)
    if args.command == "all":
        for name in args.configs:
            for minutes in args.minutes:
                train_and_score(out, name, minutes, selection, args)
    if args.command in ("supernet", "baselines", "all"):
        print_table(out, list(CONFIGS))


if __name__ == "__main__":
    main()

"""Path samplers of one-shot supernet training: how they cover the budget region (issue 18, item 3).

The SPOS MXNet reimplementation (seed 003, "strolling evolution") plots 5000 sampled subnets for three ways of
training a supernet under a budget: no constraint (about two thirds outside the target region), constraints met by
random sampling (all inside, unevenly: a corner is seldom trained) and strolling evolution (all inside, evenly).
This script measures the same for hwnas's three samplers (``make_path_sampler`` of
``hwnas.search.parts.path_sampling``): ``uniform``, ``constrained`` (rejection, then repair) and ``strolling``, on
one space under a MACs budget.

For each sampler it draws ``--draws`` paths (one RNG, seed ``--seed``, epoch 0, no channel warm-up) and prints the
share of draws inside the budget, the share in each of 5 equal bins of MACs from the lightest network of the space
to the budget (shares of all draws, so a row's bins add up to its in-budget share), how many draws are distinct
paths, how many decisions change on average from one draw to the next (a walk moves few), how well each decision's
values are covered (for each decision, the share of draws that take its least-drawn value; the median over the
decisions: 1/9 = 11.1 % for uniform draws of a 9-way slot) and the sampling time.

    .venv/bin/python benchmarks/path_coverage.py               # FBNet, 28 px, width 0.5, 4.8M MACs, 5000 draws
    .venv/bin/python benchmarks/path_coverage.py --draws 500   # quicker
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter

import torch

from hwnas.search.budgets import Budgets, feasible, make_budgets
from hwnas.search.parts.path_sampling import PATH_SAMPLERS, make_path_sampler
from hwnas.space import get_space

BINS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="fbnet")
    parser.add_argument("--input-size", type=int, default=28)
    parser.add_argument("--width", type=float, default=0.5, help="width multiplier of the space")
    parser.add_argument("--max-macs", type=float, default=4.8e6, help="the MACs budget (default: about the 33rd "
                        "percentile of uniform paths of the default space)")
    parser.add_argument("--draws", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def measure(kind: str, space, budgets, draws: int, seed: int) -> dict:
    """One sampler's draws, summarised (see the module docstring)."""
    budget = budgets[0]
    low, limit = budget.separable.minimum(), budget.limit
    sampler, rng = make_path_sampler(kind, space, budgets), random.Random(seed)
    start = time.perf_counter()
    paths = [sampler.sample(rng, 0) for _ in range(draws)]
    seconds = time.perf_counter() - start
    bins = [0] * BINS
    for path in paths:
        if feasible(budgets, path):
            bins[min(max(int((budget.value(path) - low) / (limit - low) * BINS), 0), BINS - 1)] += 1
    changed = [sum(a[k] != b[k] for k in a) for a, b in zip(paths, paths[1:])]
    rarest = [min(Counter(p[d.label] for p in paths).get(v, 0) for v in d.values) / draws for d in space.dims()]
    return {"kind": kind, "inside": sum(bins) / draws, "bins": [b / draws for b in bins],
            "distinct": len({tuple(sorted(p.items())) for p in paths}), "changed": sum(changed) / len(changed),
            "rarest": statistics.median(rarest), "ms_per_draw": 1000 * seconds / draws}


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    space = get_space(args.space, args.input_size, 1, 10, args.width)
    budgets = make_budgets(Budgets(max_macs=args.max_macs), space)
    low = budgets[0].separable.minimum()
    edges = [low + i * (args.max_macs - low) / BINS for i in range(BINS + 1)]
    print(f"space {args.space} at {args.input_size} px, width {args.width}; budget {args.max_macs / 1e6:.2f}M MACs; "
          f"lightest network {low / 1e6:.2f}M; {args.draws} draws, seed {args.seed}")
    print("bins (M MACs): " + ", ".join(f"{a / 1e6:.2f}-{b / 1e6:.2f}" for a, b in zip(edges, edges[1:])))
    header = ["sampler", "in budget"] + [f"bin {i + 1}" for i in range(BINS)] + [
        "distinct paths", "decisions changed / draw", "rarest value (median)", "ms / draw"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for kind in PATH_SAMPLERS:
        r = measure(kind, space, budgets, args.draws, args.seed)
        cells = [r["kind"], f"{100 * r['inside']:.1f} %"] + [f"{100 * b:.1f} %" for b in r["bins"]] + [
            str(r["distinct"]), f"{r['changed']:.1f}", f"{100 * r['rarest']:.1f} %", f"{r['ms_per_draw']:.2f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

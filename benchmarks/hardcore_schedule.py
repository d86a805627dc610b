"""HardCoRe-NAS's Frank-Wolfe schedule: the classic step 2/(t+2) over 300 steps against HardCoRe-NAS's code, a fixed
0.002 over 1000 steps (issue 21, item 2).

One hardcore supernet is trained once (``--limit`` Fashion-MNIST images, the ``fbnet`` space at ``--width-mult``,
28 px); then, from that supernet (``--from-supernet``), the BCFW search runs with each schedule under MACs budgets
at ``--fractions`` of the way from the lightest to the heaviest network, for each of ``--seeds`` (the seed moves
the Gumbel masks of the gradients). A MACs budget is linear like a latency table's and needs no timing, so the
figures do not depend on this machine's load. Per run: how much of the budget the result uses (MACs / budget),
whether the rounding had to be repaired, its arch-split top-1 on the supernet (``supernet_val_top1``, BN
recalibrated) and the search time.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hardcore_schedule.py --out runs/bench_hc_schedule
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from hwnas.cost.models import AnalyticCost
from hwnas.cost.separable import SeparableCost
from hwnas.search import Budgets, search
from hwnas.space import get_space

SCHEDULES = {"fw": {"bcfw.step": "fw"}, "fixed": {"bcfw.step": "fixed"}}
TRAIN = {"heaviest_epochs": 2, "epochs": 4, "grad_mode": "sampled"}  # BCFW gradients on 16 images (HardCoRe)


def budget_macs(space_name: str, width: float, fraction: float) -> float:
    space = get_space(space_name, 28, 1, 10, width)
    separable = SeparableCost(AnalyticCost.for_space("macs", space), space)
    low, high = separable.minimum(largest_widths=True), separable.cost(space.heaviest())
    return low + fraction * (high - low)


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = Path(args.out)
    common = dict(batch_size=args.batch, width_mult=args.width_mult, limit=args.limit, data_dir=args.data_dir,
                  progress=False, tensorboard=False, channels_last=False)  # NCHW: torch 2.13 crashes on
    # the odd per-candidate sub-batches of multipath training in channels_last (hwnas.train.layout)
    supernet = out / "supernet"
    if not (supernet / "result.json").is_file():
        started = time.perf_counter()
        search("hardcore", args.space, out=supernet, overrides={**TRAIN, "bcfw.steps": 1},
               budgets=Budgets(max_macs=budget_macs(args.space, args.width_mult, 0.5)), **common)
        print(f"supernet trained in {time.perf_counter() - started:.0f} s", flush=True)
    rows = []
    for fraction in args.fractions:
        limit = budget_macs(args.space, args.width_mult, fraction)
        for seed in args.seeds:
            for name, overrides in SCHEDULES.items():
                where = out / f"{name}_{fraction}_{seed}"
                if not (where / "result.json").is_file():
                    search("hardcore", args.space, out=where, overrides={**TRAIN, **overrides}, seed=seed,
                           budgets=Budgets(max_macs=limit), from_supernet=supernet, **common)
                result = json.loads((where / "result.json").read_text())
                rows.append({"schedule": name, "fraction": fraction, "seed": seed, "budget_macs": limit,
                             "macs": result["macs"], "use": result["macs"] / limit,
                             "projected": bool(result["projected"]), "val_top1": result["supernet_val_top1"],
                             "time_s": result["search_time_s"], "arch": result["arch"]})
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "arch"}), flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| schedule | budget (fraction) | budget used (MACs / B), per seed | repaired | arch-split top-1 (%), "
             "per seed | search time (s) |", "|---|---|---|---|---|---|"]
    for fraction in sorted({r["fraction"] for r in rows}):
        for name in SCHEDULES:
            these = [r for r in rows if r["schedule"] == name and r["fraction"] == fraction]
            uses = ", ".join(f"{r['use']:.3f}" for r in these)
            tops = ", ".join(f"{r['val_top1']:.1f}" for r in these)
            lines.append(f"| {name} | {fraction} | {uses} | {sum(r['projected'] for r in these)}/{len(these)} | "
                         f"{tops} | {statistics.median(r['time_s'] for r in these):.0f} |")
    for name in SCHEDULES:
        these = [r for r in rows if r["schedule"] == name]
        lines.append(f"| **{name}, all** | | mean {statistics.mean(r['use'] for r in these):.3f} | "
                     f"{sum(r['projected'] for r in these)}/{len(these)} | "
                     f"mean {statistics.mean(r['val_top1'] for r in these):.2f} | "
                     f"{statistics.median(r['time_s'] for r in these):.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench_hc_schedule")
    parser.add_argument("--space", default="fbnet")
    parser.add_argument("--width-mult", type=float, default=0.5)
    parser.add_argument("--limit", type=int, default=6000, help="training images (80 %% weights, 20 %% arch)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    rows = run(args)
    Path(args.out, "rows.json").write_text(json.dumps(rows, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()

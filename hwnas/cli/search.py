"""``hwnas search``: run one search method under budgets and write ``result.json`` (thin CLI layer).

Registered from :func:`hwnas.cli.build_parser`; errors are raised as ``ValueError``/``FileNotFoundError`` and
printed by :func:`hwnas.cli.main` as one line (an impossible budget included, with the smallest achievable value).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from hwnas.cli.common import announcer, common_flags, positive_float, positive_int, print_result, warn_uncalibrated
from hwnas.settings import parse_settings


def cmd_search(args: argparse.Namespace) -> None:
    from hwnas.search.closed_loop import AttemptDirs, search_closed_loop

    search_args = _search_args(args)
    budgets = _budgets(args)
    _check_measured_usable(args)
    if args.lut:
        from hwnas.cost.latency.table import LatencyTable

        warn_uncalibrated(LatencyTable.load(args.lut))
    out = Path(args.out)
    dirs = AttemptDirs(first=out, root=out, prefix="retry")  # retries in OUT/retryN
    timer = _timer(args) if args.check_measured else None
    chosen, attempts = search_closed_loop(
        args.method, search_args, budgets, timer or _not_measured, dirs, args.check_measured or 0,
        resume=args.resume, from_supernet=args.from_supernet, announce=announcer(args))
    result = chosen["result"].to_json()  # a SearchResult; its result.json form is what --json prints
    text = _result_text(args, result, dirs(chosen["attempt"]) / "result.json")
    if timer is not None:
        result = dict(result, measured_check=_write_measured_check(args, dirs, chosen, attempts, timer))
        met = chosen["measured_ms"] <= args.max_latency_ms
        passes = sum(m["passes"] for m in chosen["measurements"])
        text += (f"\n  measured {chosen['measured_ms']:.3f} ms alone on {args.lut}'s backend (drift-corrected median "
                 f"of {passes} passes, drift {chosen['drift']:.2f}) after {len(attempts)} attempt(s): "
                 f"budget {args.max_latency_ms:.3f} ms {'met' if met else 'NOT met'}")
        if args.fill_budget:
            result, line = _fill(args, result, timer)
            text += "\n  " + line
    print_result(args, result, text)


def _fill(args: argparse.Namespace, result: dict[str, Any], timer) -> tuple[dict[str, Any], str]:
    """``--fill-budget``: the kept network moved into [0.9 B, 0.97 B] measured (:mod:`hwnas.search.filling`), with
    the same timer; written as ``OUT/filled/result.json`` (the search's result with the filled network and the
    filling's record under ``filled``). Returns that result and one line for the terminal."""
    from hwnas.arch import encode
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.fileio import write_json_atomic
    from hwnas.run.stages import digest
    from hwnas.search.filling import fill_measured, other_budgets_fit
    from hwnas.search.preference import result_preference
    from hwnas.search.result import describe_choice
    from hwnas.space import get_space

    table = LatencyTable.load(args.lut)
    g = result["geometry"]
    space = get_space(args.space, g["input_size"], g["in_channels"], g["num_classes"], g["width_mult"])
    work = Path(args.out) / "filled"

    def measure(choice):
        arch = encode(space.to_spec(choice))
        return timer(arch, work / f"{digest(arch)}.onnx")

    filled = fill_measured(space, result["choice"], lambda c: table.predict(space.to_spec(c)), measure,
                           args.max_latency_ms, result_preference(result),
                           other_budgets_fit(_budgets(args), space, table))
    out = {**result, **describe_choice(space, filled.choice, table), "searched_arch": result["arch"],
           "filled": filled.to_json()}
    write_json_atomic(work / "result.json", out)
    state = "in [0.9 B, 0.97 B]" if filled.in_band else f"not in [0.9 B, 0.97 B]: {filled.reason}"
    return out, (f"filled to {filled.measured_ms:.3f} ms measured ({filled.fraction:.0%} of the budget, {state}): "
                 f"{out['arch']} -> {work / 'result.json'}")


def _budgets(args: argparse.Namespace):
    """The search's budgets, one per budget kind's flag."""
    from hwnas.search.budgets import BUDGET_KINDS, Budgets

    return Budgets(**{kind.name: getattr(args, kind.name) for kind in BUDGET_KINDS})


def _check_measured_usable(args: argparse.Namespace) -> None:
    if args.check_measured and (args.max_latency_ms is None or not args.lut):
        raise ValueError("--check-measured needs --max-latency-ms and --lut: it times the chosen network as the "
                         "table's ops were timed")
    if args.fill_budget and not args.check_measured:
        raise ValueError("--fill-budget measures the network on this machine: give --check-measured RETRIES too")
    if args.check_measured and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("--check-measured times networks on this machine: run it without torchrun (or search "
                         "under torchrun, then check the result with `hwnas latency ARCH --lut FILE --measure`)")


def _search_args(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments of :func:`hwnas.search.search` that every attempt shares."""
    overrides = parse_settings(args.set)
    if args.epochs is not None:
        overrides.setdefault("epochs", args.epochs)
    return dict(space=args.space, dataset=args.dataset, lut=args.lut, overrides=overrides,
                batch_size=args.batch_size, width_mult=args.width_mult, seed=args.seed, device=args.device,
                data_dir=args.data_dir, download=args.download, limit=args.limit, progress=not args.quiet,
                tensorboard=not args.no_tensorboard, channels_last=args.channels_last)


def _timer(args: argparse.Namespace):
    """The :class:`~hwnas.search.measured.DeployedTimer` of ``--check-measured``: the table's settings,
    ``--measure-passes`` passes, in ``OUT/drift``, against the drift references of the table's calibration (their
    times then as baselines), else those of ``--space`` at the table's geometry."""
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.search import measured  # looked up at call time: tests replace the timing
    from hwnas.space import get_space

    from hwnas.cost.latency.drift import table_references

    table = LatencyTable.load(args.lut)
    p = table.provenance
    space = get_space(args.space, p["input_size"], p["in_channels"], p["num_classes"], args.width_mult)
    # A calibration's references come with their times then: every measurement in the predictions' units.
    references = None if table_references(table) else measured.drift_references(space)
    return measured.DeployedTimer.from_table(args.lut, Path(args.out) / "drift", passes=args.measure_passes,
                                             references=references)


def _not_measured(arch: str, onnx_path: Path) -> float:
    raise AssertionError("the loop measures only with --check-measured")


def _write_measured_check(args: argparse.Namespace, dirs, chosen: dict[str, Any], attempts: list[dict[str, Any]],
                          timer) -> dict[str, Any]:
    """``OUT/measured_check.json``: which attempt was kept, under which budget, every attempt's measurements
    (with their drift and noise) and the timer's settings, drift references and log."""
    from hwnas.fileio import write_text_atomic

    keys = ("attempt", "budget_ms", "predicted_latency_ms", "measured_ms", "drift", "noise", "measurements", "error")
    check = {"chosen": str(dirs(chosen["attempt"]) / "result.json"), "budget_ms": args.max_latency_ms,
             "attempts": [{k: a[k] for k in keys if k in a} for a in attempts],
             "timer": timer.describe(), "log": timer.log}
    write_text_atomic(Path(args.out) / "measured_check.json", json.dumps(check, indent=1) + "\n")
    return check


def _result_text(args: argparse.Namespace, result: dict[str, Any], where: Path) -> str:
    held = ", ".join(f"{k} {v['value']:.4g} <= {v['limit']:.4g}: {'met' if v['met'] else 'NOT met'}"
                     for k, v in result["budgets_met"].items()) or "no budgets"
    latency = result["predicted_latency_ms"]
    return (f"{args.method} on {args.space}: {result['arch']}\n"
            + (f"  predicted latency {latency:.3f} ms, " if latency is not None else "  ")
            + f"{result['params'] / 1e6:.3f}M params, {result['macs'] / 1e6:.1f}M MACs; {held}\n"
            + f"  search time {result['search_time_s']:.0f} s -> {where}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    from hwnas.search.budgets import BUDGET_KINDS
    from hwnas.search.registry import get_method, method_names

    methods = "\n".join(f"  {name:10s} {get_method(name).summary}" for name in method_names())
    p = sub.add_parser("search", help="search an architecture under latency/params/MACs/memory budgets",
                       epilog=f"methods (docs/SEARCH.md):\n{methods}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=method_names())
    p.add_argument("--space", default="fbnet", help="fbnet | hardcore | tfnas | spos, or a YAML space file")
    p.add_argument("--dataset", default="fashion-mnist", help="fashion-mnist | cifar10 | cifar100 | imagefolder:PATH")
    p.add_argument("--lut", help="latency table of the space at the dataset's geometry (`hwnas lut build`)")
    for kind in BUDGET_KINDS:
        p.add_argument(kind.flag, type=float, help=kind.help)
    p.add_argument("--epochs", type=positive_int, help="supernet / search epochs (the method's default if omitted)")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--width-mult", type=positive_float, default=1.0, help="the space's channel width multiplier")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any method setting, e.g. --set warmup_epochs=1 --set evolution.generations=5 "
                        "(see docs/SEARCH.md)")
    p.add_argument("--limit", type=positive_int, help="use only N training images (and N test images)")
    p.add_argument("--out", default="runs/search", help="output directory (result.json, state, logs)")
    p.add_argument("--resume", action="store_true", help="continue the search in --out from its last checkpoint")
    p.add_argument("--from-supernet", metavar="DIR",
                   help="spos/random/hardcore: search a new budget on the supernet trained in DIR")
    p.add_argument("--no-tensorboard", action="store_true", help="metrics.jsonl only")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory format for the supernet and its batches (default: on the CPU, where supernet "
                        "steps ran about 2x faster; off on CUDA, not measured there); --no-channels-last keeps NCHW")
    p.add_argument("--check-measured", type=positive_int, metavar="RETRIES",
                   help="time the chosen network alone as the table's ops were; over --max-latency-ms, search again "
                        "under a budget tightened by the measured excess (in OUT/retryN; spos/random/hardcore from "
                        "the trained supernet), up to RETRIES times; OUT/measured_check.json says which was kept")
    p.add_argument("--fill-budget", action="store_true",
                   help="with --check-measured: then move the kept network into [0.9 B, 0.97 B] of --max-latency-ms, "
                        "measured, by the op/depth/width changes that cost the method's preference least per ms "
                        "(OUT/filled/result.json); latency left unused is accuracy left unused")
    p.add_argument("--measure-passes", type=positive_int, default=3, metavar="N",
                   help="--check-measured: time the network N times, each pass beside drift references of the "
                        "space (default 3, what a decision needs; an excess found with fewer passes, or inside the "
                        "passes' noise, is measured again before the budget is tightened)")
    common_flags(p)
    p.set_defaults(func=cmd_search)

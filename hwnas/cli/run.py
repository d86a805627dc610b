"""``hwnas run``: the whole pipeline from a YAML preset (thin CLI layer over :mod:`hwnas.run`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hwnas.cli.common import announcer, print_result
from hwnas.settings import parse_settings


def cmd_run(args: argparse.Namespace) -> None:
    from hwnas.run import load_config, run

    cfg = load_config(args.preset, parse_settings(args.set))
    summary = run(cfg, Path(args.out), progress=not (args.quiet or args.json), announce=announcer(args))
    lat = summary["latency"]
    held = "; ".join(f"{c['budget']} {c['final']:.4g} <= {c['limit']:.4g} ({c['how']}): "
                     f"{'holds' if c['holds'] else 'VIOLATED'}" for c in summary["budget_checks"])
    text = (f"{summary['method']} on {summary['space']}: {summary['arch']}\n"
            f"  test top-1 {summary['test_top1']:.2f} %, measured {lat['measured_ms']:.3f} ms "
            f"(predicted {lat['predicted_ms']:.3f} ms); {held}\n"
            f"  report: {Path(args.out) / 'report.html'}")
    print_result(args, summary, text)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="end to end: latency table, search, training, export, measurement, report")
    p.add_argument("--preset", default="quick",
                   help="a built-in preset (quick, default) or a YAML file (default: quick)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any preset key, e.g. --set search.method=hardcore --set budgets.max_latency_ms=0.4 "
                        "--set search.settings.epochs=2 (see docs/RUN.md)")
    p.add_argument("--out", default="runs/run", help="output directory; rerunning continues where it stopped")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print summary.json")
    p.set_defaults(func=cmd_run)

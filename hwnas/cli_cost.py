"""``hwnas lut ...`` and ``hwnas latency``: latency tables and predicted-vs-measured latency (thin CLI layer).

Registered from :func:`hwnas.cli.build_parser`; errors are raised as ``ValueError``/``FileNotFoundError`` and
printed by :func:`hwnas.cli.main` as one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hwnas.cli import _positive_int, _print


def _specs(args: argparse.Namespace, input_size: int) -> list[tuple[str, Any]]:
    from hwnas.archref import load_arch
    from hwnas.pipeline import adapt_spec

    refs = [load_arch(a) for a in args.arch]
    return [(ref.name, adapt_spec(ref.spec, input_size, not args.no_adapt)) for ref in refs]


def cmd_lut_build(args: argparse.Namespace) -> None:
    from hwnas.cost.lut_build import build_arch_table, build_space_table
    from hwnas.space import get_space

    if not args.space and not args.arch:
        raise ValueError("give --space SPACE (every op of a space) or --arch ARCH ... (the ops of given networks)")
    size = args.input_size
    if size is None and args.arch and not args.space:
        from hwnas.archref import load_arch

        size = load_arch(args.arch[0]).input_size
    size = size or 224
    space = get_space(args.space, size, args.in_channels, args.num_classes, args.width_mult) if args.space else None
    common = dict(backend=args.backend, threads=args.threads, batch_size=args.batch_size, warmup=args.warmup,
                  rounds=args.rounds, chunk=args.chunk, progress=not args.quiet, overwrite=args.overwrite,
                  passes=args.passes)
    if args.arch:
        result = build_arch_table(_specs(args, size), args.out, size, args.in_channels, args.num_classes,
                                  space=space, **common)
    else:
        result = build_space_table(space, args.out, width_grid=args.width_grid, **common)
    prov = result.table.provenance
    data = {"out": str(args.out), "ops": result.ops, "timed": result.timed, "reused": result.reused,
            "seconds": round(result.seconds, 2), "space": prov["space"], "archs": prov["archs"],
            "input_size": prov["input_size"], "backend": prov["backend"], "threads": prov["threads"],
            "batch_size": prov["batch_size"]}
    _print(args, data, f"wrote {args.out}: {result.ops} ops ({result.timed} timed, {result.reused} reused) in "
                       f"{result.seconds:.1f} s; {result.table.description}")


def cmd_latency(args: argparse.Namespace) -> None:
    from hwnas.archref import load_arch
    from hwnas.cost.lut import LatencyTable
    from hwnas.pipeline import adapt_spec

    table = LatencyTable.load(Path(args.lut))
    ref = load_arch(args.arch)
    size = table.provenance["input_size"]
    spec = adapt_spec(ref.spec, size, not args.no_adapt)
    predicted = table.predict(spec)
    data: dict[str, Any] = {"arch": ref.name, "predicted_ms": predicted, "measured_ms": None,
                            "measured_iqr_ms": None, "predicted_raw_ms": table.predict(spec, calibrated=False),
                            "calibrated": table.calibration is not None, "lut": str(args.lut),
                            "input_size": size, "backend": table.provenance["backend"],
                            "threads": table.provenance["threads"], "batch_size": table.provenance["batch_size"]}
    text = f"{ref.name} at {size} px: predicted {predicted:.3f} ms"
    if args.measure:
        timing = table.measure([spec], rounds=args.rounds)[0]
        data.update(measured_ms=timing.median_ms, measured_iqr_ms=timing.iqr_ms)
        error = 100 * (predicted - timing.median_ms) / timing.median_ms
        text += f", measured {timing.median_ms:.3f} ms (IQR {timing.iqr_ms:.3f}), error {error:+.1f}%"
    _print(args, data, text + f" [{table.description}]")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``lut`` and ``latency`` to the ``hwnas`` parser."""
    from hwnas.cost.backends import BACKENDS
    from hwnas.cost.lut_build import DEFAULT_CHUNK, DEFAULT_WIDTH_GRID
    from hwnas.cost.measure import DEFAULT_ROUNDS, DEFAULT_WARMUP

    from hwnas.cli_lut import add_lut_commands

    lut = sub.add_parser("lut", help="latency lookup tables").add_subparsers(dest="lut_cmd", required=True)
    p = lut.add_parser("build", help="time every op of a space (or of given networks) and write a latency table")
    p.add_argument("--space", help="fbnet | hardcore | tfnas | spos, or a YAML space file")
    p.add_argument("--arch", nargs="+", metavar="ARCH",
                   help="only the ops of these networks (zoo names, arch text or arch JSON files)")
    p.add_argument("--input-size", type=_positive_int,
                   help="input resolution (default 224, or the first ARCH's own with --arch alone)")
    p.add_argument("--in-channels", type=_positive_int, default=3)
    p.add_argument("--num-classes", type=_positive_int, default=1000)
    p.add_argument("--width-mult", type=float, default=1.0, help="the space's channel width multiplier")
    p.add_argument("--backend", choices=BACKENDS, default="onnxruntime")
    p.add_argument("--threads", type=_positive_int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--batch-size", type=_positive_int, default=1)
    p.add_argument("--width-grid", type=_positive_int, default=DEFAULT_WIDTH_GRID,
                   help="elastic widths timed per slot candidate; the rest are interpolated (default "
                        f"{DEFAULT_WIDTH_GRID})")
    p.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="untimed rounds first")
    p.add_argument("--rounds", type=_positive_int, default=DEFAULT_ROUNDS, help="timed interleaved rounds")
    p.add_argument("--passes", type=_positive_int, default=1,
                   help="time every op in this many passes, minutes apart, and keep the median (default 1; 3 "
                        "drops the slow spells of a shared machine)")
    p.add_argument("--chunk", type=_positive_int, default=DEFAULT_CHUNK,
                   help="ops timed together (interleaved) and saved after each chunk")
    p.add_argument("--out", required=True, help="table file (JSON); an unfinished one with the same settings "
                                                "is resumed")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out holds a partial table")
    p.add_argument("--no-adapt", action="store_true", help="with --arch: keep ImageNet strides on small inputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lut_build)
    add_lut_commands(lut)

    p = sub.add_parser("latency", help="predicted latency of an architecture from a table; --measure times it")
    p.add_argument("arch", help="zoo name, one-line arch text, or arch JSON file")
    p.add_argument("--lut", required=True, help="latency table (from `hwnas lut build`)")
    p.add_argument("--measure", action="store_true",
                   help="also time the whole network with the table's backend, threads and batch size")
    p.add_argument("--rounds", type=_positive_int, help="timed rounds for --measure (default: the table's)")
    p.add_argument("--no-adapt", action="store_true", help="keep ImageNet strides on small inputs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_latency)

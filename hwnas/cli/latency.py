"""``hwnas latency``: predicted latency of one network from a table, and measured with ``--measure``.

Errors are raised as ``ValueError``/``FileNotFoundError`` and printed by :func:`hwnas.cli.main` as one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hwnas.cli.common import positive_int, print_result


def cmd_latency(args: argparse.Namespace) -> None:
    from hwnas.archref import load_arch
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.workflows.run_dir import adapt_spec

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
    print_result(args, data, text + f" [{table.description}]")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``latency`` to the ``hwnas`` parser."""
    p = sub.add_parser("latency", help="predicted latency of an architecture from a table; --measure times it")
    p.add_argument("arch", help="zoo name, one-line arch text, or arch JSON file")
    p.add_argument("--lut", required=True, help="latency table (from `hwnas lut build`)")
    p.add_argument("--measure", action="store_true",
                   help="also time the whole network with the table's backend, threads and batch size")
    p.add_argument("--rounds", type=positive_int, help="timed rounds for --measure (default: the table's)")
    p.add_argument("--no-adapt", action="store_true", help="keep ImageNet strides on small inputs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_latency)

"""``hwnas latency``: predicted latency of one network from a table, and measured with ``--measure``.

Errors are raised as ``ValueError``/``FileNotFoundError`` and printed by :func:`hwnas.cli.main` as one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hwnas.cli.common import positive_int, print_result, warn_uncalibrated


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
    warn_uncalibrated(table)
    if args.measure:
        text += _measure(args, ref.name, spec, table, predicted, data)
    print_result(args, data, text + f" [{table.description}]")


def _measure(args: argparse.Namespace, name: str, spec: Any, table: Any, predicted: float,
             data: dict[str, Any]) -> str:
    """Time the network as it is deployed (its ``hwnas export`` ONNX file for ONNX Runtime), in ``--passes``
    passes beside the calibration's drift references (:class:`~hwnas.search.measured.DeployedTimer`); fill
    ``data`` and return the text. ``measured_ms`` is what the machine does now (what a user's own loop over the
    exported file finds); the error compares the prediction with the measurement in the calibration's units
    (divided by the drift factor), the units every prediction of the table is in."""
    import tempfile

    from hwnas.arch import encode
    from hwnas.cost.latency.drift import table_references
    from hwnas.search.measured import DeployedTimer

    with tempfile.TemporaryDirectory() as work:
        timer = DeployedTimer.from_table(args.lut, work, passes=args.passes, rounds=args.rounds)
        m = timer(encode(spec), Path(work) / "model.onnx")
    refs = table_references(table) is not None
    timing = timer.describe()
    data.update(measured_ms=m.raw_ms, measured_passes_ms=list(m.passes_ms), drift=m.drift if refs else None,
                measured_at_calibration_ms=m.ms if refs else None, measured_statistic=timing["how"],
                measured_noise=m.noise, measured_iqr_ms=passes_iqr(m.passes_ms))
    error = 100 * (predicted - m.ms) / m.ms
    data["error_pct"] = error
    text = f", measured {m.raw_ms:.3f} ms (median of {m.passes} passes, each alone in its deployment export)"
    if refs:
        text += (f"; drift since calibration x{m.drift:.3f} (its references timed beside it), {m.ms:.3f} ms in the "
                 f"calibration's units, error {error:+.1f}%")
    else:
        text += f", error {error:+.1f}% (no drift references in the table: the machine's drift is not known)"
    return text


def passes_iqr(passes_ms: Any) -> float | None:
    """The interquartile range of the passes' medians (ms): the spread a user sees from run to run of the same
    file. ``None`` with one pass, where there is no spread to report."""
    import statistics

    passes = list(passes_ms)
    if len(passes) < 2:
        return None
    low, _, high = statistics.quantiles(passes, n=4, method="inclusive")
    return high - low


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``latency`` to the ``hwnas`` parser."""
    p = sub.add_parser("latency", help="predicted latency of an architecture from a table; --measure times it")
    p.add_argument("arch", help="zoo name, one-line arch text, or arch JSON file")
    p.add_argument("--lut", required=True, help="latency table (from `hwnas lut build`)")
    p.add_argument("--measure", action="store_true",
                   help="also time the whole network with the table's backend, threads and batch size")
    p.add_argument("--rounds", type=positive_int, help="timed rounds for --measure (default: the table's)")
    p.add_argument("--passes", type=positive_int, default=3,
                   help="--measure in this many passes, each beside the calibration's drift references; the "
                        "median over passes (default 3)")
    p.add_argument("--no-adapt", action="store_true", help="keep ImageNet strides on small inputs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_latency)

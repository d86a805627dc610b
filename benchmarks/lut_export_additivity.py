"""Is the deployed ONNX file (symbolic batch axis) as additive over the table's ops as the static graph? (issue 20)

The ops of a latency table are timed as static-shape graphs; hwnas now times whole networks as the file
``hwnas export`` ships, with a symbolic batch axis, which ran about 6 % slower at 32 px. If that extra cost is not
proportional to the ops, the calibration fits worse. This takes the calibration networks that
``benchmarks/lut_user_check.py --workdir DIR`` kept (``DIR/fbnetN_calibration.json``, timed as deployed files),
times the same networks as static in-memory graphs (``--time``; else it reuses ``DIR/static_ms.json``), and fits
the ``graph`` and ``contextual`` kinds to each: their in-sample errors say which is the more additive.

    .venv/bin/python benchmarks/lut_export_additivity.py DIR --size 32 --time     # ~3 min at 32 px, idle machine
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from hwnas.arch import decode
from hwnas.cost.latency.backends import device_info
from hwnas.cost.latency.calibrate import calibrate_table
from hwnas.cost.latency.measure import time_models
from hwnas.cost.latency.measured_nets import Measured
from hwnas.cost.latency.table import LatencyTable
from hwnas.nn import build_model
from hwnas.space import get_space


def static_times(specs: list, size: int, passes: int = 3) -> list[float]:
    """Each network as a static in-memory graph (how hwnas timed networks before issue 20): median over passes."""
    models = [build_model(s, 1000, 3).eval() for s in specs]
    runs = [[t.median_ms for t in time_models(models, "onnxruntime", input_shapes=(3, size, size), order="alone")]
            for _ in range(passes)]
    return [statistics.median(r[i] for r in runs) for i in range(len(specs))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--time", action="store_true", help="time the static graphs (else reuse static_ms.json)")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    table = LatencyTable.load(folder / f"fbnet{args.size}.json")
    saved = json.loads((folder / f"fbnet{args.size}_calibration.json").read_text())
    specs = [decode(a) for a in saved["archs"]]
    cache = folder / "static_ms.json"
    if args.time:
        cache.write_text(json.dumps(static_times(specs, args.size)))
    static = json.loads(cache.read_text())
    ratio = statistics.median(f / s for f, s in zip(saved["median_ms"], static))
    print(f"deployed file / static graph: median ratio {ratio:.3f}")
    space = get_space("fbnet", args.size)
    for name, ms in (("deployed file", saved["median_ms"]), ("static graph", static)):
        measured = Measured(specs, ms, saved["iqr_ms"], "measured", device_info(), saved["timing"],
                            saved["overheads"])
        for contextual in (False, True):
            table.calibration = None
            cal = calibrate_table(table, measured, space, graph=True, contextual=contextual)
            fit = cal["in_sample"]
            print(f"{name}, {'contextual' if contextual else 'graph'} -> {cal['kind']}: in-sample MAPE "
                  f"{fit['mape']:.2f} %, {fit['within_5pct']:.0f} % within 5 %, max {fit['max_abs_pct']:.1f} %")


if __name__ == "__main__":
    main()

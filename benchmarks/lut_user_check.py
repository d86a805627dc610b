"""A latency table checked the way a user checks it: CLI defaults, fresh networks, the user's own timing loop.

For each input size (FBNet space, ONNX Runtime, 1 thread, batch 1; ``--backend onnxruntime-int8`` for the int8
table):

1. build and calibrate the table exactly as ``hwnas lut build`` does with its defaults (one pass of 50 rounds
   per op; then 150 uniform networks, seed 0, each timed alone in its deployment export, the ``auto`` kind, and
   the drift references kept);
2. draw ``--val`` validation networks with ``--val-seed`` (a seed no design decision was made on; the
   calibration's networks excluded) from each sampler: ``uniform`` (as ``hwnas space sample`` draws) and
   ``mixed`` (half uniform, half light);
3. export each with the deployment export (``hwnas export``'s file; for int8 that file quantized as one graph,
   what ``hwnas export --int8`` writes, calibrated on random inputs as hwnas times int8 networks) and time it with
   ``benchmarks/plain_loop.py`` in a fresh process: a plain ONNX Runtime loop, each network warm and on its own, per-call times, median, in
   ``--plain-passes`` passes (median per network). This is the "measured" of the headline;
4. time the same networks with hwnas's own measurement (``measure_here``, as ``hwnas lut validate`` does), and
   score it against the plain loop: the two must agree within the noise floor;
5. time the calibration's drift references again: the machine's drift since calibration;
6. noise floor, computed within the same run as the headline: the plain loop's passes split in two halves
   (even and odd passes); a network's relative error is ``(A - B) / (A + B)``, the error of one half-run's mean
   against the run's, which is what a perfect predictor scores against one measurement of that run
   (:func:`hwnas.cost.latency.validate.split_floor`, which ``benchmarks/lut_accuracy.py`` uses too).

    .venv/bin/python benchmarks/lut_user_check.py --sizes 32            # ~4 min on an idle 2-core machine
    .venv/bin/python benchmarks/lut_user_check.py --sizes 224 --plain-calls 30
    .venv/bin/python benchmarks/lut_user_check.py --sizes 32 --backend onnxruntime-int8   # every network quantized
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hwnas.cost.latency.backends import backend_class
from hwnas.cost.latency.build import build_space_table
from hwnas.cost.latency.calibrate import DEFAULT_SAMPLES, fit_measured, measure_calibration_networks
from hwnas.cost.latency.drift import drift_factor, measure_references, table_references
from hwnas.cost.latency.measured_nets import measure_here
from hwnas.cost.latency.sampled_nets import fitted_networks, sample_specs
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.latency.validate import metrics, split_floor
from hwnas.space import get_space

PLAIN_LOOP = Path(__file__).with_name("plain_loop.py")
SAMPLERS = ("uniform", "mixed")


def build_as_cli(size: int, path: Path, backend: str = "onnxruntime", progress: bool = False,
                 fit: int = DEFAULT_SAMPLES) -> LatencyTable:
    """The table ``hwnas lut build --space fbnet --input-size SIZE --backend BACKEND`` writes (its defaults:
    :func:`~hwnas.cost.latency.calibrate.calibrate_here` in its two halves), and the calibration's measured
    networks beside it (``NAME_calibration.json``), so that other fits can be tried on them without timing."""
    from hwnas.arch import encode

    space = get_space("fbnet", size)
    table = build_space_table(space, path, backend=backend, progress=progress, overwrite=True).table
    measured = measure_calibration_networks(table, space, fit)
    fit_measured(table, space, measured, progress=progress)
    table.save()
    path.with_name(path.stem + "_calibration.json").write_text(json.dumps(
        {"archs": [encode(s) for s in measured.specs], "median_ms": measured.median_ms, "iqr_ms": measured.iqr_ms,
         "overheads": measured.overheads, "timing": measured.timing}))
    return table


def export_all(specs: list, folder: Path, size: int, backend: str = "onnxruntime") -> list[Path]:
    """Each network's deployment ONNX (the file ``hwnas export`` ships; for ``onnxruntime-int8`` the file ``hwnas
    export --int8`` ships), freshly initialised."""
    from hwnas.nn import build_model

    folder.mkdir(parents=True, exist_ok=True)
    return [backend_class(backend).deployed(build_model(spec, 1000, 3).eval(), folder / f"net{i}.onnx",
                                            (1, 3, size, size)) for i, spec in enumerate(specs)]


def plain_times(files: list[Path], passes: int, calls: int) -> list[list[float]]:
    """Per file, the plain loop's median of each pass (a fresh process that imports no hwnas)."""
    out = subprocess.run([sys.executable, str(PLAIN_LOOP), *map(str, files), "--passes", str(passes), "--calls",
                          str(calls)], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    return [data[str(f)]["passes_ms"] for f in files]


def check_sampler(table: LatencyTable, space, sampler: str, n: int, seed: int, folder: Path, passes: int,
                  calls: int) -> dict[str, Any]:
    specs = sample_specs(space, n, seed, exclude=fitted_networks(table), sampler=sampler)
    files = export_all(specs, folder / sampler, space.geometry.input_size, table.provenance["backend"])
    plain = plain_times(files, passes, calls)
    measured = [statistics.median(p) for p in plain]
    ours = measure_here(table, specs, passes=3, order="alone").median_ms
    predicted = [table.predict(s) for s in specs]
    raw = [table.predict(s, calibrated=False) for s in specs]
    return {"sampler": sampler, "n": n, "seed": seed, "calibrated": metrics(predicted, measured),
            "uncalibrated": metrics(raw, measured), "vs_hwnas_measured": metrics(predicted, ours),
            "hwnas_vs_plain": metrics(ours, measured), "noise_floor": split_floor(plain),
            "points": {"predicted_ms": predicted, "plain_ms": measured, "hwnas_ms": ours, "plain_passes": plain}}


def tag(backend: str) -> str:
    """What the files of a backend's check are named after: nothing for the default, ``_int8`` for int8."""
    return "" if backend == "onnxruntime" else "_" + backend.removeprefix("onnxruntime-")


def check_size(size: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    path = folder / f"fbnet{size}{tag(args.backend)}.json"
    if args.reuse:
        table = LatencyTable.load(path, backend=args.backend)
    else:
        table = build_as_cli(size, path, args.backend, progress=args.progress, fit=args.fit)
    built_s = time.perf_counter() - started
    space = get_space("fbnet", size)
    calls = args.plain_calls or (100 if size <= 64 else 30)
    results = {s: check_sampler(table, space, s, args.val, args.val_seed, folder, args.plain_passes, calls)
               for s in SAMPLERS}
    archs, then = table_references(table)
    drift = drift_factor(measure_references(table, archs), then)
    for r in results.values():  # the same scores in the calibration's units
        r["drift_corrected"] = metrics(r["points"]["predicted_ms"], [m / drift for m in r["points"]["plain_ms"]])
    cal = table.calibration
    return {"size": size, "backend": args.backend, "kind": cal["kind"], "in_sample": cal["in_sample"],
            "build_and_calibrate_s": built_s,
            "drift": drift, "plain_calls": calls, "plain_passes": args.plain_passes, "samplers": results,
            "seconds": time.perf_counter() - started}


def _row(name: str, m: dict[str, Any] | None) -> str:
    if m is None:  # a noise floor of one pass: nothing to split
        return f"| {name} | needs 2 or more passes |" + " - |" * 5
    return (f"| {name} | {m['mape']:.1f} % | {m['within_5pct']:.0f} % | {m['within_10pct']:.0f} % | "
            f"{m['spearman']:.3f} | {m['bias_pct']:+.1f} % | {m['max_abs_pct']:.1f} % |")


def format_size(r: dict[str, Any]) -> str:
    lines = [f"FBNet {r['size']} px, {r.get('backend', 'onnxruntime')}: table built and calibrated with the CLI's "
             f"defaults ({r['kind']}, in-sample MAPE {r['in_sample']['mape']:.1f} %) in "
             f"{r['build_and_calibrate_s']:.0f} s; measured = plain ONNX "
             f"Runtime loop over the exported file, per-call median, {r['plain_calls']} calls, median of "
             f"{r['plain_passes']} passes; drift since calibration x{r['drift']:.3f}", "",
             "| networks: prediction vs measured | MAPE | within ±5 % | within ±10 % | Spearman | bias | max |",
             "|---|--:|--:|--:|--:|--:|--:|"]
    for name, s in r["samplers"].items():
        tag = f"{s['n']} {name} (seed {s['seed']})"
        lines += [_row(f"{tag}: calibrated vs plain loop", s["calibrated"]),
                  _row(f"{tag}: noise floor (within-run split)", s["noise_floor"]),
                  _row(f"{tag}: calibrated vs plain loop, drift-corrected", s["drift_corrected"]),
                  _row(f"{tag}: calibrated vs hwnas's measured", s["vs_hwnas_measured"]),
                  _row(f"{tag}: hwnas's measured vs plain loop", s["hwnas_vs_plain"]),
                  _row(f"{tag}: uncalibrated vs plain loop", s["uncalibrated"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224])
    parser.add_argument("--fit", type=int, default=DEFAULT_SAMPLES, help="calibration networks (the CLI's default)")
    parser.add_argument("--backend", choices=("onnxruntime", "onnxruntime-int8"), default="onnxruntime",
                        help="the table's backend; int8 networks are exported as `hwnas export --int8` ships them")
    parser.add_argument("--val", type=int, default=50, help="validation networks per sampler")
    parser.add_argument("--val-seed", type=int, default=20,
                        help="validation seed (default 20: never used for a design decision; seed 1 was)")
    parser.add_argument("--plain-passes", type=int, default=4, help="passes of the plain loop (even: halves)")
    parser.add_argument("--plain-calls", type=int, help="timed calls per pass (default 100; 30 above 64 px)")
    parser.add_argument("--workdir", help="keep tables, files and results here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="reuse the tables in --workdir (time no build)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.workdir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            result = check_size(size, args, folder)
            (folder / f"user_check_{size}{tag(args.backend)}.json").write_text(json.dumps(result, indent=1))
            print(format_size(result) + "\n", flush=True)


if __name__ == "__main__":
    main()

"""Latency-table accuracy: predicted vs measured whole networks, before and after calibration (issue 4).

For each (input size, backend), on one thread and batch 1:

1. build the FBNet table (every op of the space; build time and op count reported);
2. calibrate it on ``--fit`` networks sampled uniformly from the space (seed 0);
3. validate it on ``--val`` *other* sampled networks (``--val-seed``, default 20; the fitted ones excluded. Seed 1,
   the default before issue 20, is the seed on which the conversion term, the network order and the contextual
   threshold were chosen, so its figures are not a validation): MAPE, share within
   +-5 % and +-10 %, Spearman's rho, uncalibrated and calibrated;
4. the noise floor, computed within the run the figures of step 3 are scored on (each run: ``--net-passes``
   passes over the networks, median per network): the validation networks' passes split in two halves, even and
   odd, scored as ``benchmarks/lut_user_check.py`` scores its plain loop
   (:func:`hwnas.cost.latency.validate.split_floor`): the best any predictor could score against one measurement
   of that run. It needs two passes or more; with one the table says so;
5. measure the validation networks a second time, as a separate run, and score that second run against the first
   and against the same predictions: two runs' noise plus the machine's drift between them, which a prediction
   scored within one run does not meet (before issue 20 this was the "noise floor").

Networks are timed ``--net-order alone`` by default (each warm, on its own, as deployed and as ``hwnas lut
calibrate`` does); ``interleaved`` times them cold in rounds across all of them, as the ops always are.

Then the zoo at 224 px: a table of just the zoo networks' ops (``build_arch_table``), the FBNet-224 calibration of
the same backend carried over (same device, backend and settings), and predicted vs measured per network.
Everything is timed with :func:`hwnas.cost.latency.measure.time_models` (warm-up, interleaved rounds, medians).

    .venv/bin/python benchmarks/lut_accuracy.py                   # ORT and torch, 224 and 32 px, the zoo
    .venv/bin/python benchmarks/lut_accuracy.py --quick           # smoke run: 32 px, few networks and rounds

This benchmark compares calibration kinds on one set of measurements. What a user sees (tables built and calibrated
with the CLI's defaults, uniform and mixed networks timed by a plain ONNX Runtime loop over the exported file, the
noise floor within the same run, the drift since calibration) is ``benchmarks/lut_user_check.py``, the source of
the headline figures in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hwnas.cost.latency.backends import backend_class
from hwnas.cost.latency.build import build_arch_table, build_space_table
from hwnas.cost.latency.calibrate import DEFAULT_SAMPLES, calibrate_table, default_kind
from hwnas.cost.latency.measure import ORDERS
from hwnas.cost.latency.measured_nets import DEFAULT_NETWORK_ORDER, Measured, measure_here
from hwnas.cost.latency.sampled_nets import arch_digest, sample_specs
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.latency.validate import metrics, scatter_plot, split_floor, validate_table
from hwnas.space import SearchSpace, get_space

ZOO_SKIP = ("fbnet_96_035_1",)  # a 96 px network: the zoo table is at 224 px


@dataclass
class SpaceResult:
    label: str
    backend: str
    ops: int
    build_s: float
    raw: dict[str, Any]  # metrics of the uncalibrated table on the validation networks
    calibrations: dict[str, dict[str, Any]]  # kind -> the fitted calibration
    validated: dict[str, dict[str, Any]]  # kind -> metrics on the validation networks, same run as the fit
    later: dict[str, dict[str, Any]]  # kind -> metrics on the validation networks' second run
    noise: dict[str, Any] | None  # the first run's within-run split floor (None: one pass, nothing to split)
    rerun: dict[str, Any]  # metrics of the second run against the first (drift between the runs included)
    points: dict[str, list[float]] = field(default_factory=dict)  # of the best kind


def fit_kinds(table: LatencyTable, measured: Measured, space: SearchSpace | None) -> dict[str, dict[str, Any]]:
    """Every calibration kind fitted to the same measured networks (``overhead`` and ``graph`` only with null
    models)."""
    kinds = {"affine": calibrate_table(table, replace(measured, overheads=None), space, seed=0)}
    if measured.overheads is not None:
        kinds["overhead"] = calibrate_table(table, measured, space, seed=0)
        kinds["graph"] = calibrate_table(table, measured, space, seed=0, graph=True)
        kinds["contextual"] = calibrate_table(table, measured, space, seed=0, contextual=True)
    return kinds


def _part(measured: Measured, part: slice) -> Measured:
    passes = measured.pass_medians_ms
    return replace(measured, specs=measured.specs[part], median_ms=measured.median_ms[part],
                   iqr_ms=measured.iqr_ms[part], pass_medians_ms=None if passes is None else passes[part])


def save_measured(path: Path, first: Measured, again: Measured, fit: int, build: dict[str, Any]) -> None:
    """Every timed network beside the table (arch text, role, medians and IQRs of both runs, each pass's median
    when there were several, the null models), so another calibration can be tried on the same measurements later
    without timing anything again."""
    import json

    from hwnas.arch import encode
    from hwnas.fileio import write_text_atomic

    second = dict(zip(range(fit, len(first.specs)), zip(again.median_ms, again.iqr_ms)))
    passes = dict(enumerate(first.pass_medians_ms or []))
    passes_again = dict(zip(range(fit, len(first.specs)), again.pass_medians_ms or []))
    write_text_atomic(path, json.dumps({"timing": first.timing, "overheads": first.overheads, "build": build,
                                        "networks": [
        {"arch": encode(spec), "role": "fit" if i < fit else "validation", "median_ms": ms, "iqr_ms": iqr,
         **({"pass_ms": passes[i]} if i in passes else {}),
         **({"again_ms": second[i][0], "again_iqr_ms": second[i][1]} if i in second else {}),
         **({"again_pass_ms": passes_again[i]} if i in passes_again else {})}
        for i, (spec, ms, iqr) in enumerate(zip(first.specs, first.median_ms, first.iqr_ms))]}, indent=1))


def evaluate_space(space: SearchSpace, backend: str, workdir: Path, fit: int, val: int, rounds: int, warmup: int,
                   passes: int = 3, label: str = "", progress: bool = False,
                   net_passes: int = 1, net_order: str = "interleaved",
                   val_seed: int = 20) -> tuple[SpaceResult, LatencyTable]:
    """Build; time ``fit`` (seed 0) and ``val`` other (``val_seed``) networks in one run (of ``net_passes`` passes,
    median per network; ``net_order`` as in :func:`~hwnas.cost.latency.measured_nets.measure_here`), and again in a
    second run; calibrate on the fit networks of the first run, validate on the others of both runs."""
    started = time.perf_counter()
    path = workdir / f"{space.name}{space.geometry.input_size}_{backend}.json"
    built = build_space_table(space, path, backend=backend, warmup=warmup, rounds=rounds, progress=progress,
                              overwrite=True, passes=passes)
    build_s, table = time.perf_counter() - started, built.table
    fit_specs = sample_specs(space, fit, 0)
    specs = fit_specs + sample_specs(space, val, val_seed, exclude=[arch_digest(s) for s in fit_specs])
    # One run for fit and validation networks alike: a slow spell of the machine between a fit measured now and a
    # validation measured later would show up as calibration error; the second run shows what it costs.
    first = measure_here(table, specs, overheads=backend_class(backend).has_null_models, passes=net_passes,
                         order=net_order)
    # Only the validation networks are scored again.
    again = measure_here(table, specs[fit:], passes=net_passes, order=net_order)
    save_measured(networks_path(path), first, again, fit, {"ops": built.ops, "build_s": build_s})
    return score_space(space, table, first, again, fit, built.ops, build_s, label), table


def score_space(space: SearchSpace, table: LatencyTable, first: Measured, again: Measured, fit: int, ops: int,
                build_s: float, label: str = "") -> SpaceResult:
    """Every calibration kind fitted to the first ``fit`` networks of ``first``, scored on the others and on
    their second run ``again``; the noise floor within ``first`` and the second run against it; the table keeps
    (and saves) the default kind's calibration."""
    backend = table.provenance["backend"]
    calibrations = fit_kinds(table, _part(first, slice(0, fit)), space)
    validated, later, points = {}, {}, {}
    for kind, calibration in calibrations.items():
        table.calibration = calibration
        validated[kind] = validate_table(table, _part(first, slice(fit, None)))
        later[kind] = validate_table(table, again)
        points[kind] = validated[kind].pop("points")
    # The figures that count are the default kind's (what `hwnas lut calibrate` fits with this many networks),
    # not the best on the validation networks: choosing on them would make validation part of the fit.
    best = default_kind(table, "auto", fit)
    table.calibration = calibrations[best]
    table.save()
    raw = validated[best].pop("uncalibrated")
    # The floor beside the headline is computed within the run the headline is scored on: the second run's
    # error against the first also holds the machine's drift between them, which no prediction scored here meets.
    passes = first.pass_medians_ms
    noise = split_floor(passes[fit:]) if passes is not None else None
    rerun = metrics(again.median_ms, first.median_ms[fit:])
    label = label or f"{space.name} {space.geometry.input_size} px"
    return SpaceResult(label, backend, ops, build_s, raw, calibrations, validated, later, noise, rerun,
                       points[best])


def networks_path(table_path: Path) -> Path:
    return table_path.with_name(table_path.stem + "_networks.json")


def load_measured(table: LatencyTable, path: Path) -> tuple[Measured, Measured, int, dict[str, Any]]:
    """What :func:`save_measured` wrote: both runs (the second of the validation networks only), the number
    of fit networks and the table's build figures (empty in files written before they were recorded). Each
    pass's medians come back where they were saved (files written before issue 20 have none: no noise floor)."""
    import json

    from hwnas.arch import decode
    from hwnas.cost.latency.backends import device_info

    data = json.loads(path.read_text())
    rows = data["networks"]
    fit = sum(r["role"] == "fit" for r in rows)
    device = dict(device_info(), cpu_model=table.provenance["device"].get("cpu_model"))  # where it was timed

    def passes(key: str, part: list[dict[str, Any]]) -> list[list[float]] | None:
        return [r[key] for r in part] if all(key in r for r in part) else None

    first = Measured([decode(r["arch"]) for r in rows], [r["median_ms"] for r in rows], [r["iqr_ms"] for r in rows],
                     "measured", device, data["timing"], data["overheads"], passes("pass_ms", rows))
    again = Measured(first.specs[fit:], [r["again_ms"] for r in rows[fit:]], [r["again_iqr_ms"] for r in rows[fit:]],
                     "measured", device, data["timing"], pass_medians_ms=passes("again_pass_ms", rows[fit:]))
    return first, again, fit, data.get("build", {})


def refit_spaces(folder: Path, space: SearchSpace | None = None) -> tuple[list[SpaceResult], dict[str, Any]]:
    """``--refit``: the tables and timed networks a previous run left in ``folder``, fitted and scored again with
    the current calibration code; nothing is timed. Also the networks' timing settings (of the last table).
    ``space`` is the tables' space (default: the one each table's provenance names, at its input size)."""
    loaded = []
    for networks in folder.glob("*_networks.json"):
        table = LatencyTable.load(networks.with_name(networks.name.replace("_networks", "")))
        loaded.append((networks, table))
    if not loaded:
        raise SystemExit(f"no *_networks.json in {folder}: run the benchmark with --workdir first")
    results = []
    for networks, table in sorted(loaded, key=lambda item: -item[1].provenance["input_size"]):
        table.calibration = None
        first, again, fit, build = load_measured(table, networks)
        p = table.provenance
        results.append(score_space(space or get_space(p["space"], p["input_size"]), table, first, again, fit,
                                   build.get("ops", len(table.entries)), build.get("build_s", float("nan"))))
        print(f"[{table.where}: refitted]", flush=True)
    return results, first.timing


def evaluate_zoo(names: Sequence[str], backend: str, calibrations: dict[str, dict[str, Any]], workdir: Path,
                 rounds: int, warmup: int, size: int = 224, passes: int = 3, progress: bool = False,
                 net_passes: int = 1, net_order: str = "interleaved"):
    """Per zoo network: raw prediction, prediction with each calibration kind, measured median and IQR; and the
    zoo table's op count and build time. ``calibrations`` come from an FBNet table of the same backend and
    timing settings, on this machine: whole networks of other families test whether they carry over."""
    from hwnas.archref import load_arch
    from hwnas.workflows.run_dir import adapt_spec

    archs = [(n, adapt_spec(load_arch(n).spec, size)) for n in names]
    started = time.perf_counter()
    built = build_arch_table(archs, workdir / f"zoo{size}_{backend}.json", size, backend=backend, warmup=warmup,
                             rounds=rounds, progress=progress, overwrite=True, passes=passes)
    build_s, table = time.perf_counter() - started, built.table
    timed = measure_here(table, [spec for _, spec in archs], passes=net_passes, order=net_order)
    rows = [{"name": name, "raw_ms": table.predict(spec, calibrated=False), "measured_ms": ms, "iqr_ms": iqr}
            for (name, spec), ms, iqr in zip(archs, timed.median_ms, timed.iqr_ms)]
    for kind, calibration in calibrations.items():
        if kind in ("overhead", "graph", "contextual"):  # the zoo's op shapes: measure their null models too
            from hwnas.cost.latency.overhead import measure_overheads, table_io_keys

            calibration = dict(calibration, overhead_ms=measure_overheads(table_io_keys(table.entries),
                                                                          table.provenance))
        if kind in ("graph", "contextual"):  # and the zoo's ops' graph features
            from hwnas.cost.latency.graph_features import table_features

            calibration["op_features"] = table_features(table.entries, backend=table.provenance["backend"])
        table.calibration = calibration
        for row, (_, spec) in zip(rows, archs):
            row[kind] = table.predict(spec)
    return rows, built.ops, build_s


# ------------------------------------------------------------------------------------------------ formatting
def _pct(v: float) -> str:
    return f"{v:.1f} %"


def _row(label: str, backend: str, name: str, m: dict[str, Any] | None) -> str:
    if m is None:  # a noise floor of one pass (nothing to split), or of a file saved without each pass
        return f"| {label} | {backend} | {name} | unavailable: one pass, or passes not saved |" + " - |" * 5
    return (f"| {label} | {backend} | {name} | {_pct(m['mape'])} | {_pct(m['within_5pct'])} | "
            f"{_pct(m['within_10pct'])} | {m['spearman']:.3f} | {m['bias_pct']:+.1f} % | {_pct(m['max_abs_pct'])} |")


def _kind(r: SpaceResult, kind: str) -> str:
    """The kind's name; for ``contextual``, the ridge strength cross-validation kept (or that it kept none)."""
    cv = r.calibrations[kind].get("contextual_cv")
    if cv is None:
        return kind
    return f"{kind}, ridge {cv['lambda']:g}" if cv["lambda"] is not None else f"{kind}: none kept, = graph"


def format_spaces(results: Sequence[SpaceResult], fit: int, val: int, rounds: int, net_passes: int = 1,
                  net_order: str = "interleaved") -> str:
    run = "interleaved run" if net_order == "interleaved" else "run, each network alone (warm)"
    lines = [f"Tables (1 thread, batch 1, {rounds} interleaved rounds per op):", "",
             "| table | backend | ops | build time |", "|---|---|--:|--:|"]
    lines += [f"| {r.label} | {r.backend} | {r.ops} | "
              f"{'-' if math.isnan(r.build_s) else f'{r.build_s:.0f} s'} |" for r in results]
    lines += ["", f"Accuracy on {val} random networks not used for calibration (fit on {fit} others, timed in the "
                  f"same {run}{f' of {net_passes} passes, median per network' if net_passes > 1 else ''}); "
                  "noise floor = the first run's passes split in even and odd halves, within the run the figures "
                  "are scored on (what a perfect predictor would score; it needs 2 or more passes); second run = "
                  "the same validation networks timed again in a separate run, against the same predictions and "
                  "against the first run (two runs' noise plus the machine's drift between them):", "",
              "| table | backend | prediction | MAPE | within ±5 % | within ±10 % | Spearman | bias | max error |",
              "|---|---|---|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        lines.append(_row(r.label, r.backend, "uncalibrated", r.raw))
        lines += [_row(r.label, r.backend, f"calibrated ({_kind(r, kind)})", m) for kind, m in r.validated.items()]
        lines += [_row(r.label, r.backend, f"calibrated ({_kind(r, kind)}), second run", m)
                  for kind, m in r.later.items()]
        lines.append(_row(r.label, r.backend, "noise floor (within-run split)", r.noise))
        lines.append(_row(r.label, r.backend, "second run vs first run (drift included)", r.rerun))
    lines += ["", "| table | backend | calibration | scale | per node | per M weights | per M converted | offset | "
                  "in-sample MAPE | median IQR of a network |", "|---|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        for kind, c in r.calibrations.items():
            node = f"{1e3 * c['node_ms']:+.2f} us" if "node_ms" in c else "-"
            weights = f"{c['ms_per_mparam']:+.4f} ms" if "ms_per_mparam" in c else "-"
            converted = f"{c['ms_per_mconverted']:+.4f} ms" if "ms_per_mconverted" in c else "-"
            lines.append(f"| {r.label} | {r.backend} | {kind} | {c['scale']:.4f} | {node} | {weights} | {converted} | "
                         f"{c['offset_ms']:+.3f} ms | {_pct(c['in_sample']['mape'])} | "
                         f"{_pct(r.validated[kind]['median_iqr_pct'])} |")
    return "\n".join(lines)


def format_zoo(rows: Sequence[dict[str, Any]], backend: str, ops: int, build_s: float, kinds: Sequence[str],
               size: int = 224) -> str:
    lines = [f"Zoo at {size} px ({backend}, 1 thread, batch 1): a table of the zoo's {ops} ops (built in "
             f"{build_s:.0f} s), with the FBNet calibrations carried over; error = predicted / measured - 1:", "",
             "| network | measured ms (IQR) | uncalibrated ms (error) | "
             + " | ".join(f"{k} ms (error)" for k in kinds) + " |", "|---|--:|--:|" + "--:|" * len(kinds)]

    def cell(ms: float, measured: float) -> str:
        return f"{ms:.2f} ({100 * (ms - measured) / measured:+.1f} %)"

    for r in rows:
        m = r["measured_ms"]
        lines.append(f"| {r['name']} | {m:.2f} ({r['iqr_ms']:.2f}) | {cell(r['raw_ms'], m)} | "
                     + " | ".join(cell(r[k], m) for k in kinds) + " |")
    lines.append("")
    for name in ("raw_ms", *kinds):
        s = metrics([r[name] for r in rows], [r["measured_ms"] for r in rows])
        lines.append(f"Zoo, {'uncalibrated' if name == 'raw_ms' else name}: MAPE {s['mape']:.1f} %, "
                     f"{s['within_5pct']:.0f} % within ±5 %, {s['within_10pct']:.0f} % within ±10 %, "
                     f"Spearman {s['spearman']:.3f}.")
    return "\n".join(lines)


def run_spaces(args: argparse.Namespace, workdir: Path) -> list[SpaceResult]:
    results = []
    for backend in args.backends:
        for size in args.sizes:
            result, _ = evaluate_space(get_space("fbnet", size), backend, workdir, args.fit, args.val, args.rounds,
                                       args.warmup, args.passes, net_passes=args.net_passes,
                                       net_order=args.net_order, val_seed=args.val_seed)
            results.append(result)
            if args.plots:
                scatter_plot(result.points["predicted_ms"], result.points["measured_ms"],
                             Path(args.plots) / f"lut_fbnet{size}_{backend}.png",
                             f"FBNet {size} px, {backend}: {args.val} validation networks",
                             raw=result.points["raw_ms"])
            print(f"[{backend} {size} px: done]", flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    from hwnas import zoo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 32 px, ORT only, 8 + 8 networks")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 32])
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "torch"])
    parser.add_argument("--fit", type=int, default=DEFAULT_SAMPLES, help="calibration networks")
    parser.add_argument("--val", type=int, default=50, help="validation networks (others)")
    parser.add_argument("--val-seed", type=int, default=20,
                        help="validation seed (default 20, never used for a design decision; 1 was)")
    parser.add_argument("--rounds", type=int, default=100, help="timed interleaved rounds (ops and networks)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--passes", type=int, default=3, help="table build passes (median per op)")
    parser.add_argument("--net-passes", type=int, default=3,
                        help="passes over the networks (median per network), in each of the two runs")
    parser.add_argument("--net-order", choices=ORDERS, default=DEFAULT_NETWORK_ORDER,
                        help="time the networks each alone (warm, as deployed; the default, as `hwnas lut "
                             "calibrate`) or interleaved (cold, as the ops); the ops are always interleaved")
    parser.add_argument("--no-zoo", action="store_true")
    parser.add_argument("--zoo", nargs="+", help="zoo networks (default: every 224 px one)")
    parser.add_argument("--workdir", help="keep the tables here (default: a temporary folder)")
    parser.add_argument("--plots", help="write a predicted-vs-measured PNG per table into this folder")
    parser.add_argument("--refit", metavar="DIR",
                        help="time nothing: fit and score the calibrations again on the tables and networks a "
                             "previous --workdir DIR run saved (no zoo)")
    args = parser.parse_args(argv)
    if args.refit:
        results, timing = refit_spaces(Path(args.refit))
        print(format_spaces(results, results[0].calibrations["affine"]["fit"]["samples"],
                            results[0].validated["affine"]["n"], timing["rounds"], timing.get("network_passes", 1),
                            timing.get("network_order", "interleaved")))
        return
    if args.quick:
        args.sizes, args.backends, args.fit, args.val, args.rounds, args.warmup = [32], ["onnxruntime"], 8, 8, 20, 2
        args.passes = args.net_passes = 1
        args.zoo = args.zoo or ["fbnet_a", "mobilenetv2_100"]
    names = args.zoo or [n for n in zoo.names() if n not in ZOO_SKIP]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = run_spaces(args, workdir)
        print(format_spaces(results, args.fit, args.val, args.rounds, args.net_passes, args.net_order))
        if not args.no_zoo:
            source = results[0]  # the first backend's first size (224 px unless --sizes says otherwise)
            rows, ops, build_s = evaluate_zoo(names, source.backend, source.calibrations, workdir, args.rounds,
                                              args.warmup, passes=args.passes, net_passes=args.net_passes,
                                              net_order=args.net_order)
            print(f"\n(zoo: calibrations of {source.label}, {source.backend})\n")
            print(format_zoo(rows, source.backend, ops, build_s, list(source.calibrations)))


if __name__ == "__main__":
    main()

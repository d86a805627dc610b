"""Every search method on Fashion-MNIST, two spaces, two latency budgets: time, latency, accuracy (issue 5).

For each space (small-input ``fbnet`` and ``hardcore``, at ``--width-mult``):

1. build the ONNX Runtime table (1 thread, batch 1, 28 px, 1 channel, 10 classes) and calibrate it as
   ``hwnas run``'s lut stage does (:func:`build_table`): ``--passes`` build passes, ``--calibrate`` networks drawn
   with the ``mixed`` sampler (half uniform, half with a random share of skips, so that light networks, which
   tight budgets return, are in the fit), each timed *alone* as it runs deployed (``measure_here`` in the
   table's calibration order), the ``auto`` kind (``graph`` below 100 networks);
2. two budgets between the lightest and the heaviest network's predicted latency (``--budgets``, fractions);
3. for each method and budget: the search on ``--limit`` training images (80 % weights / 20 % architecture);
   spos, random and hardcore train their supernet once, at the first budget, and search the second from it
   (``--from-supernet``, the cheap second target), so their second row's time is the search alone;
4. the measured closed loop (``--retries``, :mod:`hwnas.search.closed_loop`, as in ``hwnas run``): the result is
   exported to ONNX (``hwnas.workflows.export``) and timed alone with the table's settings; over the budget, the search
   runs again under a predicted budget tightened by the measured excess (one-shot methods from their supernet).
   That measurement, taken minutes after the table was built and right after the search, is ``check_ms``;
5. at the end, every kept exported file of a space is timed again, first each on its own, warm, as it runs
   deployed (``alone_ms``, the figure checked against the budget), then all of them together in interleaved
   rounds (median). The calibration networks are timed again as the calibration timed them (each alone): how
   far they moved since the table was calibrated (``drift``: the machine's speed changes over an hour of
   searching) and a table re-calibrated on them (``recalibrated_ms``) separate the machine's drift from the
   table's error;
6. the result trained from scratch with one fixed recipe (``--train-epochs`` on ``--train-limit`` images, SGD,
   cosine, no augmentation) and its top-1 on the Fashion-MNIST test split.

    .venv/bin/python benchmarks/search_methods.py --out runs/bench_search        # the documented run
    .venv/bin/python benchmarks/search_methods.py --quick --out runs/bench_quick  # minutes: a smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from hwnas.cost.latency.build import build_space_table
from hwnas.cost.latency.calibrate import calibrate_table, default_kind
from hwnas.cost.latency.measure import time_models
from hwnas.cost.latency.measured_nets import Measured, measure_here
from hwnas.cost.latency.sampled_nets import sample_specs
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.separable import SeparableCost
from hwnas.search import Budgets, search
from hwnas.search.registry import get_method, method_names
from hwnas.space import get_space

METHODS = method_names()
ONESHOT = tuple(m for m in METHODS if get_method(m).reuses_supernet)  # they search again on their supernet

# Method settings for a CPU proxy search of a few minutes each (the papers' epochs are ImageNet-scale). The
# memory-lean execution modes are used where the paper runs every candidate (fbnet mixture, tfnas mixture arch
# step, hardcore all-path gradients): on two CPU cores those cost 4-12x a path per step.
SETTINGS: dict[str, dict[str, Any]] = {
    "fbnet": {"epochs": 3, "warmup_epochs": 1, "mode": "sampled"},
    "tfnas": {"epochs": 3, "warmup_epochs": 1, "arch_mode": "sampled"},
    "spos": {"epochs": 4, "recal_batches": 4, "score_batches": 8, "evolution.population": 20,
             "evolution.top_k": 5, "evolution.mutations": 10, "evolution.crossovers": 10,
             "evolution.generations": 5},
    "random": {"epochs": 4, "recal_batches": 4, "score_batches": 8, "evolution.population": 20,
               "evolution.top_k": 5, "evolution.mutations": 10, "evolution.crossovers": 10,
               "evolution.generations": 5},
    "hardcore": {"heaviest_epochs": 1, "epochs": 2, "grad_mode": "sampled", "grad_batch": 32, "bcfw.steps": 150},
}
QUICK = {"fbnet": {"epochs": 2}, "tfnas": {"epochs": 2}, "spos": {"epochs": 1, "evolution.generations": 2},
         "random": {"epochs": 1, "evolution.generations": 2}, "hardcore": {"epochs": 1, "bcfw.steps": 20}}


def build_table(space_name: str, width: float, workdir: Path, calibrate: int, rounds: int, passes: int = 3,
                validate: int = 0) -> Path:
    """``workdir/lut_SPACE.json``, built and calibrated as ``hwnas run``'s lut stage does
    (:func:`hwnas.run.pipeline.stage_lut`, what users get): ``passes`` build passes (median per op), then
    ``calibrate`` networks of the ``mixed`` sampler (seed 0) timed by ``measure_here`` in the table's calibration
    order (a new table: each network *alone*, warm, as deployed; not interleaved), with the null models where the
    backend has them, and the ``auto`` kind (``graph`` from 8 to 99 networks). ``validate`` > 0: that many other
    networks (seed 1, none of the fitted ones), timed the same way, give the table's validation error, written to
    ``workdir/lut_SPACE_validation.json``."""
    from hwnas.cost.latency.backends import backend_class
    from hwnas.cost.latency.measured_nets import calibration_order
    from hwnas.cost.latency.sampled_nets import fitted_networks
    from hwnas.cost.latency.validate import validate_table
    from hwnas.fileio import write_json_atomic

    space = get_space(space_name, 28, 1, 10, width)
    path = workdir / f"lut_{space_name}.json"
    started = time.perf_counter()
    built = build_space_table(space, path, rounds=rounds, passes=passes, progress=False, overwrite=True)
    table = built.table
    nulls = backend_class(table.provenance["backend"]).has_null_models
    specs = calibration_specs(space, calibrate)
    measured = measure_here(table, specs, overheads=nulls, order=calibration_order(table))
    kind = default_kind(table, "auto", len(specs))
    calibrate_table(table, measured, space, seed=0, graph=kind == "graph", contextual=kind == "contextual",
                    sampler="mixed")
    table.save()
    print(f"[{space_name}: table of {built.ops} ops built ({passes} passes) and calibrated ({kind}) on {calibrate} "
          f"networks timed {measured.timing['network_order']} in {time.perf_counter() - started:.0f} s]", flush=True)
    if validate:
        others = sample_specs(space, validate, seed=1, exclude=fitted_networks(table))
        result = validate_table(table, measure_here(table, others, order=calibration_order(table)))
        summary = {k: result[k] for k in ("mape", "within_5pct", "within_10pct", "spearman", "n", "bias_pct")}
        write_json_atomic(workdir / f"lut_{space_name}_validation.json", {**summary, "points": result["points"]})
        print(f"[{space_name}: validated on {validate} other networks: MAPE {summary['mape']:.1f} %, "
              f"{summary['within_5pct']:.0f} % within 5 %]", flush=True)
    return path


def calibration_specs(space, calibrate: int) -> list:
    return sample_specs(space, calibrate, seed=0, sampler="mixed")


def measure_export(result: dict[str, Any], lut: Path, workdir: Path, rounds: int) -> tuple[float, float]:
    """Export the result to ONNX and time the file alone with the table's settings: (median ms, IQR ms)."""
    from hwnas.search.closed_loop import time_deployed

    prov = LatencyTable.load(lut).provenance
    timing = time_deployed(result["arch"], result["geometry"], prov["backend"], prov["threads"], prov["batch_size"],
                           prov["timing"]["warmup"], rounds, workdir / "model.onnx")
    return timing.median_ms, timing.iqr_ms


def train_result(result: dict[str, Any], workdir: Path, epochs: int, limit: int) -> float:
    from hwnas.arch import decode
    from hwnas.workflows.train import train_arch

    metrics = train_arch(decode(result["arch"]), "fashion-mnist", workdir, epochs=epochs, limit=limit,
                         adapt=False, progress=False, augment=False, tensorboard=False)
    return float(metrics["top1"])


def run_space(space_name: str, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    workdir = Path(args.out) / space_name
    workdir.mkdir(parents=True, exist_ok=True)
    lut = build_table(space_name, args.width_mult, workdir, args.calibrate, args.rounds, args.passes)
    space = get_space(space_name, 28, 1, 10, args.width_mult)
    separable = SeparableCost(LatencyTable.load(lut), space)
    low, high = separable.minimum(largest_widths=True), separable.cost(space.heaviest())
    targets = [round(low + f * (high - low), 4) for f in args.budgets]
    for method in args.methods:
        settings = {**SETTINGS[method], **(QUICK[method] if args.quick else {})}
        for i, target in enumerate(targets):
            row = search_measured(method, space_name, i, target, lut, settings, workdir, args)
            rows.append(row)
            print(json.dumps(row), flush=True)
            (Path(args.out) / "rows.json").write_text(json.dumps(rows, indent=1))


def search_measured(method: str, space_name: str, index: int, target: float, lut: Path, settings: dict[str, Any],
                    workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One search under ``target`` with the measured closed loop (``--retries``; hwnas.search.closed_loop): each
    chosen network exported and timed alone on the table's settings before it is accepted; then trained."""
    from hwnas.search.closed_loop import search_within_measured

    supernet = workdir / f"{method}_0"  # spos, random, hardcore: trained at the first budget's first attempt

    def where(attempt: int) -> Path:
        return workdir / (f"{method}_{index}" + (f"_retry{attempt}" if attempt else ""))

    def search_at(attempt: int, budgets: Budgets) -> dict[str, Any]:
        reuse = supernet if method in ONESHOT and (index or attempt) else None
        started = time.perf_counter()
        result = search(method, space_name, "fashion-mnist", out=where(attempt), lut=lut, budgets=budgets,
                        overrides=settings, width_mult=args.width_mult, limit=args.limit, progress=False,
                        tensorboard=False, from_supernet=reuse, seed=args.seed)
        return dict(result, search_time_s=time.perf_counter() - started)

    def measure(attempt: int, result: dict[str, Any]) -> float:
        return measure_export(result, lut, where(attempt), args.rounds)[0]

    chosen, attempts = search_within_measured(search_at, measure, Budgets(max_latency_ms=target), args.retries,
                                              announce=lambda line: print(line, flush=True))
    result, folder = chosen["result"], where(chosen["attempt"])
    if "measured_ms" not in chosen:  # --retries 0: the loop measured nothing
        chosen["measured_ms"] = measure_export(result, lut, folder, args.rounds)[0]
    top1 = train_result(result, folder / "train", args.train_epochs, args.train_limit)
    return {"space": space_name, "budget_ms": target, "method": method, "index": index,
            "search_s": sum(a.get("search_time_s", 0.0) for a in attempts), "from_supernet": bool(
                method in ONESHOT and index), "predicted_ms": result["predicted_latency_ms"],
            "check_ms": chosen["measured_ms"], "measured_ms": chosen["measured_ms"], "measured_iqr_ms": 0.0,
            "params": result["params"],
            "macs": result["macs"], "test_top1": top1, "arch": result["arch"], "onnx": str(folder / "model.onnx"),
            "attempts": [{k: a[k] for k in ("budget_ms", "predicted_latency_ms", "measured_ms", "error") if k in a}
                         for a in attempts]}


def remeasure(rows: list[dict[str, Any]], out: Path, rounds: int) -> dict[str, dict[str, float]]:
    """Time every result's exported ONNX file of a space together, in interleaved rounds (A B C A B C ...), so a
    slow spell of the machine hits all of them alike; these medians replace the per-result measurements. The
    table's calibration networks are timed again as the calibration timed them (``measure_here``, each alone):
    per space, their median measured / predicted ratio (``drift``), and each row gets ``recalibrated_ms``, its
    prediction by the table re-fitted on them."""
    from hwnas.arch import decode
    from hwnas.cost.latency.measured_nets import calibration_order

    drift = {}
    for space_name in sorted({r["space"] for r in rows}):
        mine = [r for r in rows if r["space"] == space_name]
        lut = LatencyTable.load(out / space_name / f"lut_{space_name}.json")
        prov, cal = lut.provenance, lut.calibration
        space = get_space(space_name, prov["input_size"], prov["in_channels"], prov["num_classes"],
                          prov["width_mult"])
        files = [Path(r["onnx"]) if "onnx" in r else out / space_name / f"{r['method']}_{r['index']}" / "model.onnx"
                 for r in mine]
        for r, f in zip(mine, files):  # each on its own first, warm, as it runs deployed (what the loop checks)
            t = time_models([f], prov["backend"], prov["threads"], prov["batch_size"], prov["timing"]["warmup"],
                            rounds, input_shapes=(prov["in_channels"], prov["input_size"], prov["input_size"]))[0]
            r["alone_ms"], r["alone_iqr_ms"] = t.median_ms, t.iqr_ms
        size, channels = prov["input_size"], prov["in_channels"]
        timings = time_models(files, prov["backend"], prov["threads"], prov["batch_size"],
                              prov["timing"]["warmup"], rounds, input_shapes=(channels, size, size))
        for r, t in zip(mine, timings):
            r["measured_ms"], r["measured_iqr_ms"] = t.median_ms, t.iqr_ms
        # The calibration networks timed as the calibration timed them (each alone, as deployed: calibration_order),
        # so that their drift and the re-fitted table compare like with like.
        fitted = calibration_specs(space, cal["fit"]["samples"])
        timed = measure_here(lut, fitted, rounds=rounds, order=calibration_order(lut))
        now = list(timed.median_ms)
        ratios = sorted(m / lut.predict(spec) for m, spec in zip(now, fitted))
        drift[space_name] = {"median": ratios[len(ratios) // 2], "min": ratios[0], "max": ratios[-1]}
        again = Measured(fitted, now, list(timed.iqr_ms), "measured", timed.device, timed.timing,
                         cal.get("overhead_ms"))
        calibrate_table(lut, again, space, seed=0, graph=cal["kind"] == "graph",
                        contextual=cal["kind"] == "contextual", sampler="mixed",
                        op_features=cal.get("op_features"))
        for r in mine:
            r["recalibrated_ms"] = lut.predict(decode(r["arch"]))
    return drift


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = ["| space | budget ms | method | search time | attempts | predicted ms | check ms | check / budget | "
             "measured alone ms (IQR) | alone / budget | interleaved ms (IQR) | re-calibrated ms | params | MACs | "
             "test top-1 |",
             "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        when = f"{r['search_s']:.0f} s" + (" (from supernet)" if r["from_supernet"] else "")
        again = f"{r['recalibrated_ms']:.3f}" if "recalibrated_ms" in r else "-"
        alone = r.get("alone_ms", r["measured_ms"])
        tries = len(r.get("attempts") or [None])
        check = r.get("check_ms")  # the loop's own measurement, right after the search (rows of older runs lack it)
        checked = f"{check:.3f} | {100 * (check / r['budget_ms'] - 1):+.1f} %" if check else "- | -"
        lines.append(f"| {r['space']} | {r['budget_ms']:.3f} | {r['method']} | {when} | {tries} | "
                     f"{r['predicted_ms']:.3f} | {checked} | {alone:.3f} ({r.get('alone_iqr_ms', 0.0):.3f}) | "
                     f"{100 * (alone / r['budget_ms'] - 1):+.1f} % | {r['measured_ms']:.3f} "
                     f"({r['measured_iqr_ms']:.3f}) | {again} | {r['params'] / 1e3:.0f}k | "
                     f"{r['macs'] / 1e6:.2f}M | {r['test_top1']:.2f} % |")
    return "\n".join(lines)


def format_drift(drift: dict[str, dict[str, float]]) -> str:
    return "\n".join(f"\n{space}: the calibration networks now run at {100 * d['median']:.0f} % of their calibrated "
                     f"prediction (median; {100 * d['min']:.0f}-{100 * d['max']:.0f} %)" for space, d in drift.items())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["fbnet", "hardcore"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--width-mult", type=float, default=0.5)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.25, 0.6],
                        help="budgets as fractions of the way from the lightest to the heaviest network's latency")
    parser.add_argument("--limit", type=int, default=6000, help="training images for the search")
    parser.add_argument("--train-epochs", type=int, default=2)
    parser.add_argument("--train-limit", type=int, default=10000, help="training (and test) images for training")
    parser.add_argument("--calibrate", type=int, default=30, help="networks the table is calibrated on")
    parser.add_argument("--rounds", type=int, default=50, help="timed interleaved rounds (table and measurement)")
    parser.add_argument("--passes", type=int, default=3, help="table build passes (median per op), as hwnas run")
    parser.add_argument("--retries", type=int, default=2,
                        help="measured closed loop: searches again under a tightened budget when the chosen network "
                             "breaks the budget measured, up to this many times (0: open loop)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="runs/bench_search")
    parser.add_argument("--remeasure-only", action="store_true",
                        help="only re-time the exported models of a finished run in --out and print the table")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.remeasure_only:
        rows = json.loads((out / "rows.json").read_text())
        for r in rows:  # rows written before the index field existed: derive it from the budget order
            r.setdefault("index", sorted({x["budget_ms"] for x in rows if x["space"] == r["space"]}).index(
                r["budget_ms"]))
        drift = remeasure(rows, out, args.rounds)
        (out / "rows.json").write_text(json.dumps(rows, indent=1))
        print(format_rows(rows))
        print(format_drift(drift))
        return
    if args.quick:
        args.limit, args.train_limit, args.train_epochs, args.calibrate, args.rounds = 1000, 1000, 1, 8, 10
        args.passes = 1

    rows: list[dict[str, Any]] = []
    for space_name in args.spaces:
        run_space(space_name, args, rows)
    drift = remeasure(rows, out, args.rounds)
    (out / "rows.json").write_text(json.dumps(rows, indent=1))
    print()
    print(format_rows(rows))
    print(format_drift(drift))


if __name__ == "__main__":
    main()

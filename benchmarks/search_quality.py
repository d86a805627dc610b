"""The standing search-quality benchmark (issue 6): does an hwnas search find better networks than the alternatives?

Fashion-MNIST, FBNet space (28 px, 1 channel, width ``--width-mult``), ONNX Runtime on this CPU, 1 thread, batch 1.

1. One latency table, built and calibrated as in ``benchmarks/search_methods.py`` (``mixed`` sampler, ``graph``
   fit on ``--calibrate`` networks); three budgets at ``--budgets`` of the way from the lightest to the heaviest
   network's predicted latency.
2. Reference networks scaled to each budget: MobileNetV2, MobileNetV3-Large and MnasNet-A1 from the zoo, adapted
   to 28 px (:func:`hwnas.arch.for_input_size`) and scaled over a grid of width (:func:`hwnas.arch.scale_width`)
   and depth (:func:`hwnas.arch.scale_depth`) multipliers; all are timed together in interleaved rounds, and each
   budget gets, per family, the one with the most MACs whose *measured* latency meets it (the fastest, flagged,
   when none does).
3. For each seed, each method and each budget: the search (``search_methods.SETTINGS``; spos, random and
   hardcore train their supernet at the first budget and search the others from it). ``random`` scores as many
   candidates as spos's evolution on the same kind of supernet: random search with the same compute.
4. Every result and every chosen reference trained with one fixed recipe (``--train-epochs`` on
   ``--train-limit`` images, SGD, cosine, no augmentation, the seed of the row), then top-1 on the test split.
5. At the end, every exported network of every row is timed in ONNX Runtime together, in interleaved rounds
   (median), beside the table's calibration networks (their drift says how far the machine moved).

The table gives, per budget and network, the mean (and std over seeds) of the measured latency and test top-1,
params, MACs and search time; the verdict line says whether an hwnas method (fbnet, tfnas, spos, hardcore) beats
both random search and the best reference network that meets the budget, at equal or lower measured latency.

    .venv/bin/python benchmarks/search_quality.py --out runs/bench_quality            # the documented run
    .venv/bin/python benchmarks/search_quality.py --quick --out runs/bench_quality_q  # minutes: a smoke run

Rows are saved to ``OUT/rows.json`` as they finish; rerunning with the same ``--out`` skips finished rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from search_methods import ONESHOT, QUICK, SETTINGS, build_table, calibration_specs

from hwnas import zoo
from hwnas.arch import decode, encode, for_input_size, scale_depth, scale_width
from hwnas.cost.latency.measure import time_models
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.models import AnalyticCost
from hwnas.cost.separable import SeparableCost
from hwnas.search import Budgets, search
from hwnas.search.registry import method_names
from hwnas.space import get_space

METHODS = method_names()
HWNAS_METHODS = tuple(m for m in METHODS if m != "random")  # the searches, without the baseline they must beat
REFERENCES = {"MobileNetV2": "mobilenetv2_100", "MobileNetV3-L": "mobilenetv3_large_100", "MnasNet-A1": "mnasnet_a1"}
WIDTHS = (0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0)
DEPTHS = (0.34, 0.5, 1.0)  # 0.34: one block per stage (MobileNetV2's longest stage repeats 4)
SIZE, CHANNELS, CLASSES = 28, 1, 10


def export_onnx(spec, path: Path) -> Path:
    """``spec`` (untrained: latency does not depend on the weights) as an ONNX file at 28 px."""
    from hwnas.workflows.export import export_model
    from hwnas.nn import build_model

    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        export_model(build_model(spec, CLASSES, CHANNELS), spec, path, "onnx", SIZE, CHANNELS)
    return path


def timing_settings(lut: Path) -> dict[str, Any]:
    prov = LatencyTable.load(lut).provenance
    return {"backend": prov["backend"], "threads": prov["threads"], "batch_size": prov["batch_size"],
            "warmup": prov["timing"]["warmup"]}


def time_files(files: list, lut: Path, rounds: int) -> list:
    t = timing_settings(lut)
    return time_models(files, t["backend"], t["threads"], t["batch_size"], t["warmup"], rounds,
                       input_shapes=(CHANNELS, SIZE, SIZE))


def scale_references(out: Path, lut: Path, targets: list[float], rounds: int) -> dict[str, Any]:
    """Per budget and family: the scaled reference with the most MACs whose measured latency meets the budget."""
    cache = out / "references.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved["targets"] == targets:
            return saved
    grid = []
    for family, name in REFERENCES.items():
        adapted = for_input_size(zoo.get(name).spec, SIZE)
        for d in DEPTHS:
            for w in WIDTHS:
                spec = scale_width(scale_depth(adapted, d), w)
                grid.append({"family": family, "zoo": name, "width": w, "depth": d, "arch": encode(spec),
                             **costs(encode(spec)),
                             "file": str(export_onnx(spec, out / "refs" / f"{name}_w{w}_d{d}.onnx"))})
    timings = time_files([Path(g["file"]) for g in grid], lut, rounds)
    for g, t in zip(grid, timings):
        g["measured_ms"] = t.median_ms
        print(f"[reference {g['family']} w{g['width']} d{g['depth']}: {t.median_ms:.3f} ms]", flush=True)
    chosen = []
    for i, target in enumerate(targets):
        for family in REFERENCES:
            options = [g for g in grid if g["family"] == family]
            fits = [g for g in options if g["measured_ms"] <= target]
            pick = max(fits, key=lambda g: g["macs"]) if fits else min(options, key=lambda g: g["measured_ms"])
            chosen.append({**pick, "index": i, "budget_ms": target, "meets_when_scaled": bool(fits)})
    saved = {"targets": targets, "grid": grid, "chosen": chosen}
    cache.write_text(json.dumps(saved, indent=1))
    return saved


def train_top1(arch: str, workdir: Path, seed: int, args: argparse.Namespace) -> float:
    from hwnas.workflows.train import train_arch

    metrics = train_arch(decode(arch), "fashion-mnist", workdir, epochs=args.train_epochs, limit=args.train_limit,
                         adapt=False, progress=False, augment=False, tensorboard=False, seed=seed)
    return float(metrics["top1"])


def costs(arch: str) -> dict[str, float]:
    spec = decode(arch)
    geometry = {"input_size": SIZE, "in_channels": CHANNELS, "num_classes": CLASSES}
    return {k: float(AnalyticCost(k, **geometry).cost(spec)) for k in ("params", "macs")}


def run_seed(seed: int, args: argparse.Namespace, lut: Path, targets: list[float], refs: dict[str, Any],
             rows: list[dict[str, Any]], save) -> None:
    out = Path(args.out)
    done = {(r["seed"], r["network"], r["index"]) for r in rows}
    for method in args.methods:
        settings = {**SETTINGS[method], **(QUICK[method] if args.quick else {})}
        for i, target in enumerate(targets):
            if (seed, method, i) in done:
                continue
            workdir = out / f"seed{seed}" / f"{method}_{i}"
            reuse = out / f"seed{seed}" / f"{method}_0" if method in ONESHOT and i > 0 else None
            started = time.perf_counter()
            result = search(method, "fbnet", "fashion-mnist", out=workdir, lut=lut,
                            budgets=Budgets(max_latency_ms=target), overrides=settings, width_mult=args.width_mult,
                            limit=args.limit, progress=False, tensorboard=False, from_supernet=reuse, seed=seed)
            search_s = time.perf_counter() - started
            export_onnx(decode(result["arch"]), workdir / "model.onnx")
            top1 = train_top1(result["arch"], workdir / "train", seed, args)
            rows.append({"seed": seed, "network": method, "kind": "search", "index": i, "budget_ms": target,
                         "search_s": search_s, "from_supernet": reuse is not None,
                         "predicted_ms": result["predicted_latency_ms"], "params": result["params"],
                         "macs": result["macs"], "test_top1": top1, "arch": result["arch"],
                         "file": str(workdir / "model.onnx")})
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "arch"}), flush=True)
            save()
    for ref in refs["chosen"]:
        if (seed, ref["family"], ref["index"]) in done:
            continue
        workdir = out / f"seed{seed}" / f"ref_{ref['zoo']}_w{ref['width']}_d{ref['depth']}"
        metrics_file = workdir / "metrics.json"
        if metrics_file.is_file():  # the same scaled network serves several budgets: train it once per seed
            top1 = float(json.loads(metrics_file.read_text())["top1"])
        else:
            top1 = train_top1(ref["arch"], workdir, seed, args)
        rows.append({"seed": seed, "network": ref["family"], "kind": "reference", "index": ref["index"],
                     "budget_ms": ref["budget_ms"], "search_s": 0.0, "from_supernet": False, "predicted_ms": None,
                     "width": ref["width"], "depth": ref["depth"], "meets_when_scaled": ref["meets_when_scaled"], **costs(ref["arch"]),
                     "test_top1": top1, "arch": ref["arch"], "file": ref["file"]})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "arch"}), flush=True)
        save()


def remeasure(rows: list[dict[str, Any]], lut_path: Path, rounds: int) -> dict[str, float]:
    """Every row's network and the table's calibration networks, timed together in interleaved rounds."""
    from hwnas.nn import build_model

    lut = LatencyTable.load(lut_path)
    prov = lut.provenance
    space = get_space("fbnet", prov["input_size"], prov["in_channels"], prov["num_classes"], prov["width_mult"])
    files = sorted({r["file"] for r in rows})
    fitted = calibration_specs(space, lut.calibration["fit"]["samples"])
    nets = [build_model(spec, CLASSES, CHANNELS).eval() for spec in fitted]
    timings = time_files([*[Path(f) for f in files], *nets], lut_path, rounds)
    by_file = {f: t for f, t in zip(files, timings)}
    for r in rows:
        r["measured_ms"], r["measured_iqr_ms"] = by_file[r["file"]].median_ms, by_file[r["file"]].iqr_ms
    ratios = sorted(t.median_ms / lut.predict(spec) for t, spec in zip(timings[len(files):], fitted))
    return {"median": ratios[len(ratios) // 2], "min": ratios[0], "max": ratios[-1]}


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (budget, network): means and stds over seeds."""
    out = []
    for key in sorted({(r["index"], r["network"]) for r in rows}, key=lambda k: (k[0], _order(k[1]))):
        group = [r for r in rows if (r["index"], r["network"]) == key]
        top1 = [r["test_top1"] for r in group]
        first = group[0]
        out.append({"index": key[0], "network": key[1], "kind": first["kind"], "budget_ms": first["budget_ms"],
                    "seeds": len(group), "top1_mean": statistics.fmean(top1),
                    "top1_std": statistics.stdev(top1) if len(top1) > 1 else None,
                    "measured_ms": statistics.fmean(r["measured_ms"] for r in group),
                    "measured_max_ms": max(r["measured_ms"] for r in group),
                    "predicted_ms": _mean([r["predicted_ms"] for r in group]),
                    "params": statistics.fmean(r["params"] for r in group),
                    "macs": statistics.fmean(r["macs"] for r in group),
                    "search_s": statistics.fmean(r["search_s"] for r in group),
                    "from_supernet": first["from_supernet"], "width": first.get("width"), "depth": first.get("depth"),
                    "meets_when_scaled": first.get("meets_when_scaled", True)})
    return out


def verdicts(lines: list[dict[str, Any]]) -> list[str]:
    """Per budget: which hwnas methods beat random search and the best in-budget reference at <= latency."""
    texts = []
    for index in sorted({a["index"] for a in lines}):
        here = [a for a in lines if a["index"] == index]
        budget = here[0]["budget_ms"]
        ours = [a for a in here if a["network"] in HWNAS_METHODS]
        rand = next((a for a in here if a["network"] == "random"), None)
        refs = [a for a in here if a["kind"] == "reference" and a["measured_ms"] <= budget]
        best_ref = max(refs, key=lambda a: a["top1_mean"]) if refs else None
        winners = [a["network"] for a in ours
                   if (rand is None or a["top1_mean"] > rand["top1_mean"])
                   and (best_ref is None or (a["top1_mean"] > best_ref["top1_mean"]
                                             and a["measured_ms"] <= best_ref["measured_ms"]))]
        best = max(ours, key=lambda a: a["top1_mean"]) if ours else None
        ref_text = (f"best in-budget reference {best_ref['network']} w{best_ref['width']} d{best_ref['depth']} "
                    f"{best_ref['top1_mean']:.2f} % at {best_ref['measured_ms']:.3f} ms" if best_ref
                    else "no reference meets it")
        rand_text = f"random {rand['top1_mean']:.2f} %" if rand else "no random row"
        best_text = f"best hwnas method {best['network']} {best['top1_mean']:.2f} % at {best['measured_ms']:.3f} ms" \
            if best else "no hwnas row"
        verdict = f"won by {', '.join(winners)}" if winners else "NOT won by any hwnas method"
        texts.append(f"budget {budget:.3f} ms: {verdict} ({best_text}; {rand_text}; {ref_text})")
    return texts


def format_table(lines: list[dict[str, Any]]) -> str:
    head = ["| budget ms | network | seeds | measured ms | measured / budget | predicted ms | test top-1 | params | "
            "MACs | search time |", "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for a in lines:
        name = a["network"] if a["kind"] == "search" else f"{a['network']} w{a['width']} d{a['depth']}" + (
            "" if a["meets_when_scaled"] else " (fastest; over budget)")
        top1 = f"{a['top1_mean']:.2f}" + (f" ± {a['top1_std']:.2f}" if a["top1_std"] is not None else "") + " %"
        pred = f"{a['predicted_ms']:.3f}" if a["predicted_ms"] is not None else "-"
        when = "-" if a["kind"] == "reference" else f"{a['search_s']:.0f} s" + (
            " (from supernet)" if a["from_supernet"] else "")
        head.append(f"| {a['budget_ms']:.3f} | {name} | {a['seeds']} | {a['measured_ms']:.3f} | "
                    f"{100 * (a['measured_max_ms'] / a['budget_ms'] - 1):+.1f} % | {pred} | {top1} | "
                    f"{a['params'] / 1e3:.0f}k | {a['macs'] / 1e6:.2f}M | {when} |")
    return "\n".join(head)


def _order(network: str) -> int:
    names = [*METHODS, *REFERENCES]
    return names.index(network) if network in names else len(names)


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--width-mult", type=float, default=0.5)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.15, 0.35, 0.6],
                        help="budgets as fractions of the way from the lightest to the heaviest network's latency")
    parser.add_argument("--limit", type=int, default=6000, help="training images for each search")
    parser.add_argument("--train-epochs", type=int, default=2)
    parser.add_argument("--train-limit", type=int, default=10000, help="training images for each final training")
    parser.add_argument("--calibrate", type=int, default=30, help="networks the table is calibrated on")
    parser.add_argument("--rounds", type=int, default=50, help="timed interleaved rounds")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch threads for training (default: all)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="runs/bench_quality")
    parser.add_argument("--report-only", action="store_true", help="re-time and print the rows of a finished --out")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit, args.train_limit, args.train_epochs, args.calibrate, args.rounds = 1000, 1000, 1, 8, 10
        args.seeds = args.seeds[:1]
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_file = out / "rows.json"
    rows: list[dict[str, Any]] = json.loads(rows_file.read_text()) if rows_file.is_file() else []

    def save() -> None:
        rows_file.write_text(json.dumps(rows, indent=1))

    lut = out / "fbnet" / "lut_fbnet.json"
    if not lut.is_file():
        lut = build_table("fbnet", args.width_mult, out / "fbnet", args.calibrate, args.rounds)
    space = get_space("fbnet", SIZE, CHANNELS, CLASSES, args.width_mult)
    separable = SeparableCost(LatencyTable.load(lut), space)
    low, high = separable.minimum(largest_widths=True), separable.cost(space.heaviest())
    targets = [round(low + f * (high - low), 4) for f in args.budgets]
    print(f"[budgets {targets} ms: the space's predicted latency runs from {low:.3f} to {high:.3f} ms]", flush=True)
    refs = scale_references(out, lut, targets, args.rounds)
    if not args.report_only:
        for seed in args.seeds:
            run_seed(seed, args, lut, targets, refs, rows, save)
    drift = remeasure(rows, lut, args.rounds)
    save()
    lines = aggregate(rows)
    text = [format_table(lines), "", *verdicts(lines), "",
            f"Calibration networks now at {100 * drift['median']:.0f} % of their calibrated prediction (median; "
            f"{100 * drift['min']:.0f}-{100 * drift['max']:.0f} %)."]
    (out / "table.md").write_text("\n".join(text) + "\n")
    print("\n" + "\n".join(text))


if __name__ == "__main__":
    main()

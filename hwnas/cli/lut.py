"""``hwnas lut build | calibrate | validate | export-ops | export-nets | import``: latency tables (thin CLI layer
over hwnas.cost).

Errors are ``ValueError``/``FileNotFoundError``, printed by :func:`hwnas.cli.main` as one line.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwnas.cli.common import non_negative_int, positive_float, positive_int, print_result


def _table(args: argparse.Namespace):
    from hwnas.cost.latency.table import LatencyTable

    table = LatencyTable.load(Path(args.lut))
    if not table.complete:
        raise ValueError(f"{table.where} is incomplete: rerun its `hwnas lut build` command to finish it first")
    return table


def _space(table, name: str | None):
    """The space to sample networks from: ``--space``, else the one the table was built for (checked)."""
    from hwnas.space import get_space

    p = table.provenance
    name = name or p.get("space")
    if not name:
        raise ValueError(f"{table.where} was built for given networks (--arch), not a space: give --space SPACE "
                         "to sample the networks from")
    try:
        space = get_space(name, p["input_size"], p["in_channels"], p["num_classes"], p.get("width_mult") or 1.0)
    except ValueError as e:
        raise ValueError(f"{e} (for a YAML space, give its file with --space)") from None
    table.check_space(space)
    return space


def _measured(args: argparse.Namespace, table, exclude: list[str]) -> tuple[Any, dict[str, Any]]:
    """Whole networks and their times: from runner results (--imported-results), or sampled and timed here."""
    from hwnas.cost.latency.bundle import imported_networks
    from hwnas.cost.latency.calibrate import default_kind
    from hwnas.cost.latency.measured_nets import calibration_order, measure_here
    from hwnas.cost.latency.sampled_nets import sample_specs

    overheads = default_kind(table, getattr(args, "kind", "affine")) in ("overhead", "graph", "contextual")
    if args.imported_results:
        manifest = Path(args.manifest) if args.manifest else Path(args.imported_results).parent
        measured, sampling = imported_networks(manifest, args.imported_results, table)
        if not overheads:
            measured = replace(measured, overheads=None)
        elif measured.overheads is None:
            raise ValueError(f"{manifest} has no null models; use --kind affine or export the networks again")
        return measured, {"seed": sampling.get("seed"), "space": sampling.get("space"),
                          "sampler": sampling.get("sampler", "uniform")}
    space = _space(table, args.space)
    sampler = getattr(args, "sampler", "uniform")
    specs = sample_specs(space, args.samples, args.seed, exclude, sampler)
    order = getattr(args, "order", None) or calibration_order(table)
    return (measure_here(table, specs, args.rounds, overheads, getattr(args, "passes", 1), order),
            {"seed": args.seed, "space": space.name, "sampler": sampler})


def _specs(args: argparse.Namespace, input_size: int) -> list[tuple[str, Any]]:
    from hwnas.archref import load_arch
    from hwnas.workflows.run_dir import adapt_spec

    refs = [load_arch(a) for a in args.arch]
    return [(ref.name, adapt_spec(ref.spec, input_size, not args.no_adapt)) for ref in refs]


def cmd_lut_build(args: argparse.Namespace) -> None:
    from hwnas.cost.latency.build import build_arch_table, build_space_table
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
            "batch_size": prov["batch_size"], "calibration": _calibrate_built(args, result.table, space)}
    print_result(args, data, f"wrote {args.out}: {result.ops} ops ({result.timed} timed, {result.reused} reused) "
                             f"in {result.seconds:.1f} s; {result.table.description}")


def _calibrate_built(args: argparse.Namespace, table, space) -> dict[str, Any] | None:
    """A table built for a space is calibrated here, on the machine that built it, with `lut calibrate`'s
    defaults (a raw sum of ops timed alone is 20-45 % off a whole network); `--no-calibrate` leaves it raw, e.g.
    a table for a device where it will be calibrated. A table of given networks (--arch) has no space to sample
    networks from and stays raw."""
    import sys

    from hwnas.cost.latency.calibrate import calibrate_here

    if args.no_calibrate or args.arch:
        if args.arch and not args.no_calibrate:
            print("note: a table of given networks (--arch) is not calibrated; calibrate it with `hwnas lut "
                  "calibrate --space SPACE` if its ops cover a space", file=sys.stderr)
        return None
    if table.calibration is not None:  # a resumed table that was calibrated already
        return {"kind": table.calibration["kind"], "samples": table.calibration["in_sample"]["n"]}
    if not args.quiet:
        print(f"calibrating on {args.calibration_samples} networks of {space.name} timed here "
              "(--no-calibrate to skip)", file=sys.stderr)
    cal = calibrate_here(table, space, args.calibration_samples, progress=not args.quiet)
    table.save()
    fit = cal["in_sample"]
    return {"kind": cal["kind"], "samples": fit["n"], "in_sample_mape": fit["mape"],
            "in_sample_max_abs_pct": fit["max_abs_pct"]}


def cmd_lut_calibrate(args: argparse.Namespace) -> None:
    from hwnas.cost.latency.calibrate import calibrate_here, calibrate_table, default_kind

    table = _table(args)
    if not args.imported_results:  # timed here: the networks, then the drift references beside them
        space = _space(table, args.space)
        cal = calibrate_here(table, space, args.samples, args.seed, args.sampler, args.kind, args.passes,
                             args.rounds, args.order, progress=not args.json)
        _print_calibration(args, table.save(args.out or args.lut), cal, "measured")
        return
    measured, sampling = _measured(args, table, [])
    kind = default_kind(table, args.kind, len(measured.specs))
    # With the space, the fit is checked against the space's lightest network (plausible_calibration in
    # hwnas.cost.latency.calibration_fit); a space named by an imported manifest may not resolve here (a YAML file
    # of the other machine): then it is not.
    try:
        space = _space(table, getattr(args, "space", None) or sampling.get("space"))
    except (ValueError, OSError):
        space = None
    cal = calibrate_table(table, measured, space, seed=sampling["seed"], graph=kind == "graph",
                          contextual=kind == "contextual", sampler=sampling.get("sampler") or "given",
                          progress=not getattr(args, "json", False))
    cal["fit"]["space"] = sampling["space"]
    _print_calibration(args, table.save(args.out or args.lut), cal, measured.source)


def _print_calibration(args: argparse.Namespace, out: Path, cal: dict[str, Any], source: str) -> None:
    fit = cal["in_sample"]
    data = {"lut": str(out), "kind": cal["kind"], "scale": cal["scale"], "offset_ms": cal["offset_ms"],
            "samples": fit["n"], "seed": cal["fit"]["seed"], "source": source,
            "in_sample_mape": fit["mape"], "in_sample_max_abs_pct": fit["max_abs_pct"],
            "fallback_from": cal.get("fallback_from")}
    terms = ""
    if cal["kind"] in ("graph", "contextual"):
        converted = cal.get("ms_per_mconverted", 0.0)
        data.update(node_ms=cal["node_ms"], ms_per_mparam=cal["ms_per_mparam"], ms_per_mconverted=converted)
        terms = (f" {cal['node_ms'] * 1e3:+.2f} us/node {cal['ms_per_mparam']:+.4f} ms/M weights "
                 f"{converted:+.4f} ms/M converted")
    if "contextual_cv" in cal:  # asked for (or auto chose) per-op residuals: say what cross-validation kept
        lam = cal["contextual_cv"]["lambda"]
        data["ridge_lambda"] = lam
        terms += (f" + per-op residuals ({len(cal['op_residual_ms'])} ops, ridge {lam:g})" if lam is not None
                  else " (per-op residuals did not help in cross-validation: none kept)")
    what = "raw" if cal["kind"] == "affine" else "(raw - null overheads)"
    print_result(args, data, f"calibrated {out} ({cal['kind']}) on {fit['n']} networks ({source}): measured = "
                             f"{cal['scale']:.4f} x {what}{terms} {cal['offset_ms']:+.4f} ms; in-sample MAPE "
                             f"{fit['mape']:.2f} %, max {fit['max_abs_pct']:.2f} %"
                             + (f" (the {cal['fallback_from']} fit was implausible: a simpler kind was fitted; "
                                "more networks or a quieter machine may allow it)" if cal.get("fallback_from") else ""))


def _statistic(table, order: str) -> str:
    """What a validation's "measured" is, in words (said beside every figure)."""
    from hwnas.cost.latency.backends import backend_class

    cls = backend_class(table.provenance["backend"])
    what = ("its deployment ONNX export (the file `hwnas export` writes)" if cls.times_exported_onnx else
            "its deployment ONNX export quantized as one graph (as `hwnas export --int8` writes it)"
            if cls.quantized else "the module")
    how = "each network alone and warm" if order == "alone" else "the networks interleaved in rounds (cold)"
    return f"median of per-call times, {how}, in {what}; median over the passes, each with new sessions"


def cmd_lut_validate(args: argparse.Namespace) -> None:
    from hwnas.cost.latency.sampled_nets import fitted_networks

    table = _table(args)
    used = fitted_networks(table)
    samplers = [args.sampler] if args.sampler and args.sampler != "both" else ["uniform", "mixed"]
    if args.imported_results:
        samplers = [None]  # the bundle's own networks
    results = {}
    for sampler in samplers:
        args.sampler = sampler or "uniform"
        results[sampler or "given"] = _validate_sampled(args, table, used)
    result = dict(next(iter(results.values())))  # the headline: uniform members, as `hwnas space sample` draws
    result["samplers"] = {name: {k: r[k] for k in ("mape", "within_5pct", "within_10pct", "spearman", "n",
                                                   "bias_pct", "max_abs_pct")} for name, r in results.items()}
    result["drift"] = _validation_drift(args, table)
    if result["drift"] is not None:
        for r in results.values():
            r["drift_corrected"] = _drift_corrected(r, result["drift"])
        result["drift_corrected"] = next(iter(results.values()))["drift_corrected"]
    result.pop("points", None)
    print_result(args, result, _validation_text(result, results))


def _validate_sampled(args: argparse.Namespace, table, used: list[str]) -> dict[str, Any]:
    """Networks of one sampler measured and scored (:func:`~hwnas.cost.latency.validate.validate_table`)."""
    from hwnas.cost.latency.validate import scatter_plot, validate_table

    measured, sampling = _measured(args, table, used)
    result = validate_table(table, measured)
    result.update(seed=sampling["seed"], sampler=sampling["sampler"], excluded=len(used), lut=str(args.lut),
                  order=measured.timing.get("network_order", "interleaved"),
                  passes=measured.timing.get("network_passes", 1))
    result["statistic"] = _statistic(table, result["order"])
    if args.plot and sampling["sampler"] in ("uniform", None):
        points = result["points"]
        p = table.provenance
        title = f"{p.get('space') or 'networks'} at {p['input_size']} px, n={result['n']}"
        raw = points["raw_ms"] if table.calibration is not None else None
        result["plot"] = str(scatter_plot(points["predicted_ms"], points["measured_ms"], args.plot, title, raw))
    return result


def _validation_drift(args: argparse.Namespace, table) -> float | None:
    """The machine's drift since calibration: the calibration's references timed again now (None without them
    or for networks timed on another device)."""
    from hwnas.cost.latency.drift import drift_factor, measure_references, table_references

    kept = table_references(table)
    if kept is None or args.imported_results:
        return None
    archs, then = kept
    return drift_factor(measure_references(table, archs, args.passes, args.rounds), then)


def _drift_corrected(result: dict[str, Any], drift: float) -> dict[str, Any]:
    """The metrics with every measurement divided by ``drift``: in the calibration's units."""
    from hwnas.cost.latency.validate import metrics

    points = result["points"]
    return metrics(points["predicted_ms"], [m / drift for m in points["measured_ms"]])


def _validation_text(result: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, r in results.items():
        raw = r["uncalibrated"]
        lines.append(f"{r['n']} {name} networks ({r['source']}, not used for calibration, seed {r['seed']}): MAPE "
                     f"{r['mape']:.2f} %, {r['within_5pct']:.0f} % within 5 %, {r['within_10pct']:.0f} % within "
                     f"10 %, Spearman {r['spearman']:.3f}, bias {r['bias_pct']:+.1f} %"
                     + (f"; uncalibrated MAPE {raw['mape']:.2f} %" if r["calibrated"] else " (table not calibrated)"))
        if "drift_corrected" in r:
            d = r["drift_corrected"]
            lines.append(f"  in the calibration's units (drift x{result['drift']:.3f}): MAPE {d['mape']:.2f} %, "
                         f"{d['within_5pct']:.0f} % within 5 %, bias {d['bias_pct']:+.1f} %")
    drift = result["drift"]
    lines.append(f"measured: {result['statistic']} ({result['passes']} pass(es)); "
                 + (f"drift since calibration x{drift:.3f} (its references timed again)" if drift is not None
                    else "no drift references in the calibration"))
    return "\n".join(lines)


def cmd_lut_export_ops(args: argparse.Namespace) -> None:
    from hwnas.cost.latency.bundle import export_ops

    manifest = export_ops(_table(args), args.out, args.overwrite, progress=not args.quiet)
    data = {"out": str(args.out), "kind": "ops", "models": len(manifest["items"]),
            "bundle_id": manifest["bundle_id"]}
    print_result(args, data, f"wrote {len(manifest['items'])} ONNX ops and manifest.json to {args.out}; on the device: "
                             f"python runner.py {args.out}")


def cmd_lut_export_nets(args: argparse.Namespace) -> None:
    from hwnas.cost.latency.bundle import export_nets
    from hwnas.cost.latency.sampled_nets import fitted_networks, sample_specs

    table = _table(args)
    space = _space(table, args.space)
    specs = sample_specs(space, args.samples, args.seed, fitted_networks(table), args.sampler)
    manifest = export_nets(table, specs, args.out, {"space": space.name, "samples": args.samples,
                                                    "seed": args.seed, "sampler": args.sampler}, args.overwrite)
    data = {"out": str(args.out), "kind": "nets", "models": len(specs), "bundle_id": manifest["bundle_id"]}
    print_result(args, data, f"wrote {len(specs)} ONNX networks and manifest.json to {args.out}; on the device: "
                             f"python runner.py {args.out}")


def cmd_lut_import(args: argparse.Namespace) -> None:
    from hwnas.cost.latency.bundle import import_table

    table = import_table(args.manifest, args.results, args.out)
    data = {"out": str(args.out), "ops": len(table.entries), "device": table.provenance["device"]["cpu_model"],
            "source": "imported"}
    print_result(args, data, f"wrote {args.out}: {len(table.entries)} ops measured on "
                             f"{table.provenance['device']['cpu_model']}; {table.description}")


def _networks_args(p: argparse.ArgumentParser, default_samples: int, default_seed: int, what: str) -> None:
    p.add_argument("--samples", type=positive_int, default=default_samples,
                   help=f"networks sampled from the space {what} (default {default_samples})")
    p.add_argument("--seed", type=int, default=default_seed, help=f"sampling seed (default {default_seed})")
    p.add_argument("--space", help="the space to sample from (default: the table's; a YAML space needs its file)")
    p.add_argument("--sampler", choices=("uniform", "spread", "mixed", "both"), default="uniform",
                   help="uniform: every decision uniformly, as `hwnas space sample` draws; spread: a random share "
                        "of skips (and smallest depths) per network, covering light networks too; mixed: half and "
                        "half; both (validate only): uniform, then mixed (default: uniform; both for validate)")


def _measure_args(p: argparse.ArgumentParser) -> None:
    from hwnas.cost.latency.measure import ORDERS
    from hwnas.cost.latency.measured_nets import DEFAULT_NETWORK_PASSES

    p.add_argument("--rounds", type=positive_int, help="timed rounds per network (default: the table's)")
    p.add_argument("--passes", type=positive_int, default=DEFAULT_NETWORK_PASSES,
                   help="time the networks in this many passes, one after the other, each with new sessions, and "
                        f"keep each network's median over them (default {DEFAULT_NETWORK_PASSES}: sessions of one "
                        "file differ by several per cent)")
    p.add_argument("--order", choices=ORDERS,
                   help="interleaved: the networks in rounds A B C A B C (cold caches, as the ops were timed); "
                        "alone: each on its own, warm, as it runs deployed (default: the order of the table's current "
                        "calibration; alone if it has none)")
    p.add_argument("--imported-results", metavar="RESULTS",
                   help="use networks timed on another device: the runner's results.json of an `export-nets` "
                        "bundle (instead of sampling and timing here)")
    p.add_argument("--manifest", metavar="DIR", help="the bundle of --imported-results (default: its folder)")
    p.add_argument("--json", action="store_true")


def _add_calibration(lut: argparse._SubParsersAction) -> None:
    """``lut calibrate`` and ``lut validate``."""
    from hwnas.cost.latency.calibrate import DEFAULT_SAMPLES
    from hwnas.cost.latency.calibration_kinds import CALIBRATION_KINDS

    p = lut.add_parser("calibrate", help="fit the table's correction to measured whole networks")
    p.add_argument("--lut", required=True, help="latency table (updated in place unless --out)")
    _networks_args(p, DEFAULT_SAMPLES, 0, "and timed for the fit")
    _measure_args(p)
    p.add_argument("--kind", choices=("auto", *CALIBRATION_KINDS), default="auto",
                   help="affine: measured ~ scale x raw + offset; overhead: the same after subtracting each op's "
                        "measured null-model overhead; graph: overhead plus terms per executed graph node and per "
                        "weight; contextual: graph plus a cross-validated ridge residual per op (needs ~100+ "
                        "networks) (overhead, graph, contextual: onnxruntime tables only); auto (default): "
                        "for onnxruntime tables contextual from 100 networks, graph from 8, else overhead; "
                        "affine for other backends")
    p.add_argument("--out", help="write the calibrated table here instead")
    p.set_defaults(func=cmd_lut_calibrate)

    p = lut.add_parser("validate", help="predicted vs measured on networks not used for calibration")
    p.add_argument("--lut", required=True, help="latency table")
    _networks_args(p, 50, 1, "and timed (calibration networks are excluded)")
    p.set_defaults(sampler="both")
    _measure_args(p)
    p.add_argument("--plot", metavar="PNG", help="write a predicted-vs-measured scatter plot (needs matplotlib)")
    p.set_defaults(func=cmd_lut_validate)


def _add_bundles(lut: argparse._SubParsersAction) -> None:
    """``lut export-ops``, ``lut export-nets`` and ``lut import``: time a table's ops on another device."""
    from hwnas.cost.latency.calibrate import DEFAULT_SAMPLES

    p = lut.add_parser("export-ops", help="every op of a table as ONNX + manifest, for the runner on a device")
    p.add_argument("--lut", required=True, help="latency table (its ops, batch size and timing settings)")
    p.add_argument("--out", required=True, help="bundle directory")
    p.add_argument("--overwrite", action="store_true", help="replace a bundle already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lut_export_ops)

    p = lut.add_parser("export-nets", help="sampled whole networks as ONNX + manifest, to calibrate on a device")
    p.add_argument("--lut", required=True, help="latency table (its space, geometry and batch size)")
    _networks_args(p, DEFAULT_SAMPLES, 0, "")
    p.add_argument("--out", required=True, help="bundle directory")
    p.add_argument("--overwrite", action="store_true", help="replace a bundle already in --out")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lut_export_nets)

    p = lut.add_parser("import", help="turn the runner's results for an export-ops bundle into a latency table")
    p.add_argument("--manifest", required=True, metavar="DIR", help="the bundle directory (manifest.json)")
    p.add_argument("--results", help="the runner's results.json (default DIR/results.json)")
    p.add_argument("--out", required=True, help="table file to write")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lut_import)


def _add_build(lut: argparse._SubParsersAction) -> None:
    """``lut build``: time every op of a space or of given networks."""
    from hwnas.cost.latency.backends import backend_names
    from hwnas.cost.latency.build import DEFAULT_CHUNK, DEFAULT_WIDTH_GRID
    from hwnas.cost.latency.calibrate import DEFAULT_SAMPLES
    from hwnas.cost.latency.measure import DEFAULT_ROUNDS, DEFAULT_WARMUP

    p = lut.add_parser("build", help="time every op of a space (or of given networks) and write a latency table")
    p.add_argument("--space", help="fbnet | hardcore | tfnas | spos, or a YAML space file")
    p.add_argument("--arch", nargs="+", metavar="ARCH",
                   help="only the ops of these networks (zoo names, arch text or arch JSON files)")
    p.add_argument("--input-size", type=positive_int,
                   help="input resolution (default 224, or the first ARCH's own with --arch alone)")
    p.add_argument("--in-channels", type=positive_int, default=3)
    p.add_argument("--num-classes", type=positive_int, default=1000)
    p.add_argument("--width-mult", type=positive_float, default=1.0, help="the space's channel width multiplier")
    p.add_argument("--backend", choices=backend_names(), default="onnxruntime")
    p.add_argument("--threads", type=positive_int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--batch-size", type=positive_int, default=1)
    p.add_argument("--width-grid", type=positive_int, default=DEFAULT_WIDTH_GRID,
                   help="elastic widths timed per slot candidate; the rest are interpolated (default "
                        f"{DEFAULT_WIDTH_GRID})")
    p.add_argument("--warmup", type=non_negative_int, default=DEFAULT_WARMUP, help="untimed rounds first")
    p.add_argument("--rounds", type=positive_int, default=DEFAULT_ROUNDS, help="timed interleaved rounds")
    p.add_argument("--passes", type=positive_int, default=1,
                   help="time every op in this many passes, minutes apart, and keep the median (default 1; 3 "
                        "drops the slow spells of a shared machine)")
    p.add_argument("--chunk", type=positive_int, default=DEFAULT_CHUNK,
                   help="ops timed together (interleaved) and saved after each chunk")
    p.add_argument("--out", required=True, help="table file (JSON); an unfinished one with the same settings "
                                                "is resumed")
    p.add_argument("--overwrite", action="store_true", help="start afresh even if --out holds a partial table")
    p.add_argument("--no-adapt", action="store_true", help="with --arch: keep ImageNet strides on small inputs")
    p.add_argument("--no-calibrate", action="store_true",
                   help="leave the table uncalibrated (raw sums of ops timed alone, 20-45 %% off whole networks), "
                        "e.g. one that will be calibrated on its device; by default a --space table is calibrated "
                        "here as `hwnas lut calibrate` does with its defaults")
    p.add_argument("--calibration-samples", type=positive_int, default=DEFAULT_SAMPLES,
                   help=f"networks timed for that calibration (default {DEFAULT_SAMPLES})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lut_build)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``lut build | calibrate | validate | export-ops | export-nets | import`` to the ``hwnas`` parser."""
    lut = sub.add_parser("lut", help="latency lookup tables").add_subparsers(dest="lut_cmd", required=True)
    _add_build(lut)
    _add_calibration(lut)
    _add_bundles(lut)

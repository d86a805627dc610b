"""``hwnas run``: from a dataset, a target and budgets to a trained, exported network measured on the target.

Stages (each cached and resumable, :mod:`hwnas.run.stages`):

1. ``lut``: the latency table of the space at the dataset's geometry on the target: reused (``lut.path``,
   checked against the space) or built (resumable), calibrated on ``lut.calibrate`` whole networks and validated
   on ``lut.validate`` others (:mod:`hwnas.cost.latency.calibrate`);
2. ``search``: the method under the budgets (a relative ``latency_fraction`` is turned into ms with the table);
   a killed search resumes from its state. The chosen network is timed on the target at once; if it breaks the
   latency budget (the table under-predicted it), the search runs again under a predicted budget tightened by
   the measured excess (from the trained supernet for spos, random and hardcore), up to ``search.retries``
   times, so that training is spent on a network that meets the budget measured;
3. ``finalists``: the method's top ``finalists.count`` candidates and the space's members closest to
   ``finalists.references``, each moved into ``[0.9 B, 0.97 B]`` of the latency budget measured on the target
   (:mod:`hwnas.search.filling`), then trained in successive-halving rounds (``finalists.epochs``) and scored on
   a held-out split of the training data; the best goes on (:mod:`hwnas.run.finalist_stage`);
4. ``train``: the winner from scratch with one fixed recipe (resumes from ``last.pt``);
5. ``export``: ONNX and TorchScript, each checked against PyTorch;
6. ``references``: the reference networks of the report, trained with the same recipe: ``references.names``
   adapted to the input, ``references.scaled`` scaled in width and depth to the latency budget, the largest
   measured within it (:mod:`hwnas.scaled_references`): the simple alternative the search has to beat;
7. ``measure``: the exported winner (and the references) timed on the target, each on its own as it runs
   deployed (warm-up, then its rounds); every budget checked on the measured / exact value;
8. ``report``: ``report.html`` (self-contained), ``report.md`` and ``summary.json`` (:mod:`hwnas.report`): how much
   of the budget the network uses, and whether it beat the best reference within the budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnas.fileio import write_text_atomic
from hwnas.run.preset import RunConfig, dump_config
from hwnas.run.stages import Stages, digest

STAGES = ["lut", "search", "finalists", "train", "export", "references", "measure", "report"]


def dataset_geometry(cfg: RunConfig) -> dict[str, int]:
    """Input size, channels and classes of the dataset (one test image is read to find out)."""
    from hwnas.data import load_dataset

    info = load_dataset(cfg.dataset, data_dir=cfg.data_dir, download=cfg.download, split="test", limit=1,
                        progress=False)
    return {"input_size": info.input_size, "in_channels": info.in_channels, "num_classes": info.num_classes}


def make_space(cfg: RunConfig, geometry: dict[str, int]):
    from hwnas.space import get_space

    return get_space(cfg.search.space, geometry["input_size"], geometry["in_channels"], geometry["num_classes"],
                     cfg.search.width_mult)


# ------------------------------------------------------------------------------------------------ stages
def stage_lut(cfg: RunConfig, out: Path, space, progress: bool) -> dict[str, Any]:
    from hwnas.cost.latency.build import build_space_table
    from hwnas.cost.latency.calibrate import calibrate_here
    from hwnas.cost.latency.measured_nets import calibration_order, measure_here
    from hwnas.cost.latency.sampled_nets import arch_digest, fitted_networks, sample_specs
    from hwnas.cost.latency.validate import validate_table
    from hwnas.cost.latency.table import LatencyTable

    t = cfg.target
    if cfg.lut.path is not None:
        table = LatencyTable.load(cfg.lut.path, backend=t.backend, threads=t.threads, batch_size=t.batch_size)
        table.check_space(space)
        return {"path": str(Path(cfg.lut.path).resolve()), "built": False, "ops": len(table.entries),
                "calibration": (table.calibration or {}).get("kind"), "validation": None}
    path = out / "lut" / "table.json"
    built = build_space_table(space, path, backend=t.backend, threads=t.threads, batch_size=t.batch_size,
                              rounds=cfg.lut.rounds, passes=cfg.lut.passes, progress=progress)
    table = built.table
    kind = None
    if cfg.lut.calibrate:  # as `hwnas lut build` does by default, with the drift references kept
        kind = calibrate_here(table, space, cfg.lut.calibrate, cfg.seed, cfg.lut.sampler, progress=progress)["kind"]
        table.save()
    validation = None
    if cfg.lut.validate:
        others = sample_specs(space, cfg.lut.validate, cfg.seed + 1, exclude=fitted_networks(table))
        result = validate_table(table, measure_here(table, others, order=calibration_order(table)))
        validation = {k: result[k] for k in ("mape", "within_5pct", "within_10pct", "spearman", "n", "bias_pct")}
        validation["points"] = result["points"]
        validation["networks"] = [arch_digest(s) for s in others]
        write_text_atomic(out / "lut" / "validation.json", json.dumps(validation, indent=1) + "\n")
    return {"path": str(path.resolve()), "built": True, "ops": built.ops, "calibration": kind,
            "validation": None if validation is None else {k: v for k, v in validation.items()
                                                           if k not in ("points", "networks")}}


def resolve_budgets(cfg: RunConfig, space, lut_path: str):
    """The search's budgets, with a relative latency budget turned into ms on the table."""
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.cost.separable import SeparableCost

    b = cfg.budgets
    latency, how = b.max_latency_ms, "given"
    if latency is None and b.latency_fraction is not None:
        separable = SeparableCost(LatencyTable.load(lut_path), space)
        from hwnas.search.registry import get_method

        fixed_widths = not get_method(cfg.search.method).searches_widths
        low, high = separable.minimum(largest_widths=fixed_widths), separable.cost(space.heaviest())
        latency = round(low + b.latency_fraction * (high - low), 4)
        how = f"{b.latency_fraction:g} of the way from the lightest ({low:.3f} ms) to the heaviest ({high:.3f} ms)"
    return b.to_budgets(latency), how


def stage_search(cfg: RunConfig, out: Path, lut_path: str, budgets, geometry: dict[str, int],
                 progress: bool) -> dict[str, Any]:
    """The search, and the measured closed loop on the latency budget (:mod:`hwnas.search.closed_loop`): every
    attempt's network timed by one :class:`~hwnas.search.measured.DeployedTimer` (``measure.passes`` passes
    against the space's drift references, all attempts corrected to its first measurement's baselines); each
    attempt records its ``measurements`` and ``drift``, and ``OUT/search_drift/measurements.json`` the timer's log."""
    from hwnas.search.closed_loop import AttemptDirs, search_closed_loop

    dirs = AttemptDirs(first=out / "search", root=out, prefix="search_retry")  # retries in OUT/search_retryN
    search_args = dict(space=cfg.search.space, dataset=cfg.dataset, lut=lut_path, overrides=cfg.search.settings,
                       batch_size=cfg.search.batch_size, width_mult=cfg.search.width_mult, seed=cfg.seed,
                       device=cfg.device, data_dir=cfg.data_dir, download=cfg.download, limit=cfg.search.limit,
                       progress=progress, tensorboard=False)
    work = out / "search_drift"
    timer = run_timer(cfg, geometry, work, lut_path)

    def measure(arch: str, onnx_path: Path):
        return measure_untrained(cfg, arch, geometry, onnx_path, timer)

    retries = cfg.search.retries if cfg.search.check_measured else 0
    chosen, attempts = search_closed_loop(cfg.search.method, search_args, budgets, measure, dirs, retries,
                                          resume=None, announce=lambda line: print(line, flush=True))
    for a in attempts:  # the summary keeps where each result is, not the result itself
        if a.pop("result", None) is not None:
            a["result"] = str(dirs(a["attempt"]) / "result.json")
    done = [a for a in attempts if "arch" in a]
    log = None
    if timer.log:
        work.mkdir(parents=True, exist_ok=True)
        log = write_text_atomic(work / "measurements.json",
                                json.dumps({"timer": timer.describe(), "log": timer.log}, indent=1) + "\n")
    return {**{k: chosen[k] for k in ("result", "arch", "predicted_latency_ms")},
            "search_time_s": sum(a.get("search_time_s", 0.0) for a in done), "attempts": attempts,
            "chosen_attempt": chosen["attempt"], "measurement_log": None if log is None else str(log)}


def run_timer(cfg: RunConfig, geometry: dict[str, int], work: Path, lut_path: str | None = None):
    """One :class:`~hwnas.search.measured.DeployedTimer` for a stage's measurements (``measure.passes`` passes
    beside drift references), so that they share their references' baselines: those of the table at
    ``lut_path``'s calibration with their times then (every measurement in the units of its predictions) when it
    kept them, else the space's, with the first measurement as baseline."""
    from hwnas.cost.latency.drift import table_references
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.search.measured import DeployedTimer, drift_references

    t = cfg.target
    kept = table_references(LatencyTable.load(lut_path)) if lut_path is not None else None
    references, baselines = kept if kept is not None else (drift_references(make_space(cfg, geometry)), None)
    return DeployedTimer(geometry, t.backend, t.threads, t.batch_size, cfg.measure.warmup, cfg.measure.rounds,
                         work_dir=work, passes=cfg.measure.passes, references=references, baselines=baselines)


def measuring(cfg: RunConfig, geometry: dict[str, int], work: Path,
              lut_path: str | None = None) -> tuple[Any, Any]:
    """``(measure, timer)``: ``measure(arch)`` times ``arch`` untrained with one :func:`run_timer` in ``work``,
    each network exported to its own file (``work/ARCHDIGEST.onnx``)."""
    timer = run_timer(cfg, geometry, work, lut_path)

    def measure(arch: str):
        return measure_untrained(cfg, arch, geometry, work / f"{digest(arch)}.onnx", timer)

    return measure, timer


def write_measurements(timer, path: Path) -> str | None:
    """The timer's settings and every measurement it took, as JSON at ``path`` (None when it took none)."""
    if not timer.log:
        return None
    return str(write_text_atomic(path, json.dumps({"timer": timer.describe(), "log": timer.log}, indent=1) + "\n"))


def measure_untrained(cfg: RunConfig, arch: str, geometry: dict[str, int], onnx_path: Path, timer=None):
    """The latency of ``arch`` on the target, freshly initialised (latency does not depend on weights): a
    drift-corrected :class:`~hwnas.search.measured.Measurement` over ``measure.passes`` passes (``.ms`` is the
    value to decide on). ``timer``: a :class:`~hwnas.search.measured.DeployedTimer` to reuse, so that a caller's
    measurements share their references' baselines; default: a new one with the space's drift references,
    exported to ``drift/`` beside ``onnx_path``."""
    from hwnas.search.measured import DeployedTimer, drift_references

    if timer is None:
        t = cfg.target
        timer = DeployedTimer(geometry, t.backend, t.threads, t.batch_size, cfg.measure.warmup, cfg.measure.rounds,
                              work_dir=Path(onnx_path).parent / "drift", passes=cfg.measure.passes,
                              references=drift_references(make_space(cfg, geometry)))
    return timer(arch, onnx_path)


def _train(cfg: RunConfig, spec, directory: Path, progress: bool, adapt: bool) -> dict[str, Any]:
    from hwnas.workflows.train import train_arch

    tr = cfg.train
    metrics = train_arch(spec, cfg.dataset, directory, epochs=tr.epochs, batch_size=tr.batch_size, lr=tr.lr,
                         seed=cfg.seed, device=cfg.device, data_dir=cfg.data_dir, download=cfg.download,
                         limit=tr.limit, resume=True, adapt=adapt, progress=progress, augment=tr.augment,
                         tensorboard=False)
    return {"dir": str(directory), "test_top1": metrics["top1"], "test_top5": metrics.get("top5"),
            "epochs": metrics["epochs"]}


def stage_export(cfg: RunConfig, train_dir: Path, directory: Path) -> dict[str, Any]:
    from hwnas.workflows.export import export_arch
    from hwnas.workflows.run_dir import read_run

    spec, geometry = read_run(train_dir)
    outputs = {}
    for fmt in cfg.export.formats:
        name = "model.onnx" if fmt == "onnx" else "model.ts"
        report = export_arch(spec, geometry, train_dir / "best.pt", directory / name, fmt)
        outputs[fmt] = {"path": str(report.path), "max_abs_diff": report.max_abs_diff}
    return outputs


def stage_references(cfg: RunConfig, out: Path, geometry: dict[str, int], progress: bool,
                     budget_ms: float | None = None, lut_path: str | None = None) -> dict[str, Any]:
    """The reference networks, trained with the winner's recipe: ``references.names`` as they are (adapted to
    the input), ``references.scaled`` scaled to ``budget_ms`` measured (:mod:`hwnas.scaled_references`), in the
    units of the table at ``lut_path`` (its drift references' baselines, as the search and the finalists)."""
    from hwnas.arch import decode
    from hwnas.archref import load_arch
    from hwnas.workflows.export import export_arch
    from hwnas.workflows.run_dir import read_run

    from hwnas import zoo

    wanted = [(name, name if name in zoo.ZOO else f"custom{i}", load_arch(name).spec, True, None)
              for i, name in enumerate(cfg.references.names)]
    for name in cfg.references.scaled:
        scaled = _scaled_reference(cfg, out, name, geometry, budget_ms, lut_path)
        label = f"{name} x{scaled['width']:g} width, x{scaled['depth']:g} depth"
        wanted.append((label, f"{name}_scaled", decode(scaled["arch"]), False, scaled))
    outputs = {}
    for name, folder, spec, adapt, scaled in wanted:
        directory = out / "references" / folder
        if cfg.references.train:
            trained = _train(cfg, spec, directory / "train", progress, adapt=adapt)
            checkpoint = directory / "train" / "best.pt"
        else:
            from hwnas.workflows.run_dir import RunGeometry, write_run  # what a built network needs, untrained

            trained, checkpoint = {"test_top1": None}, None
            write_run(directory / "train", spec, RunGeometry(cfg.dataset, **geometry), resume=False)
        built, built_geometry = read_run(directory / "train")  # as trained (adapted to the input)
        onnx = export_arch(built, built_geometry, checkpoint, directory / "model.onnx", "onnx")
        outputs[name] = {"dir": str(directory), "onnx": str(onnx.path), "test_top1": trained["test_top1"],
                         **_costs(built, built_geometry)}
        if scaled is not None:
            outputs[name]["scaled_to_budget"] = {k: scaled[k] for k in ("width", "depth", "measured_ms",
                                                                         "meets_budget", "budget_ms", "measured")}
    return outputs


def _scaled_reference(cfg: RunConfig, out: Path, name: str, geometry: dict[str, int],
                      budget_ms: float | None, lut_path: str | None = None) -> dict[str, Any]:
    """``name`` scaled to the budget, measured (cached in ``OUT/references/NAME_scaled/scaled.json``)."""
    from hwnas.scaled_references import scale_to_budget
    from hwnas.search.filling import MARGIN
    from hwnas.search.measured import Measurement

    from hwnas import zoo

    if budget_ms is None:
        raise ValueError("references.scaled needs a latency budget")
    cache = out / "references" / f"{name}_scaled" / "scaled.json"
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("budget_ms") == budget_ms and saved.get("margin") == MARGIN and saved.get("lut") == lut_path:
            return saved
    # the table's baselines, as the winner's measurements: a reference chosen in the machine's units of the moment
    # and judged at the end in the table's was dropped as over budget when the two differed (a busy calibration)
    measure, timer = measuring(cfg, geometry, out / "references" / f"{name}_scaled" / "measured", lut_path)
    scaled = scale_to_budget(zoo.get(name).spec, budget_ms, lambda arch: Measurement.of(measure(arch)).ms,
                             margin=MARGIN,
                             input_size=geometry["input_size"], num_classes=geometry["num_classes"],
                             in_channels=geometry["in_channels"])
    scaled["margin"], scaled["lut"] = MARGIN, lut_path
    write_text_atomic(cache, json.dumps(scaled, indent=1) + "\n")
    write_measurements(timer, cache.with_name("measurements.json"))
    return scaled


def _costs(spec, geometry) -> dict[str, Any]:
    from hwnas.arch import encode
    from hwnas.cost import count_macs, count_params, peak_activation_bytes

    return {"arch": encode(spec), "params": count_params(spec, geometry.num_classes, geometry.in_channels),
            "macs": count_macs(spec, geometry.input_size, geometry.num_classes, geometry.in_channels),
            "peak_memory_mb": peak_activation_bytes(spec, geometry.input_size, geometry.in_channels) / 2 ** 20}


def stage_measure(cfg: RunConfig, out: Path, onnx: str, references: dict[str, Any],
                  geometry: dict[str, int], limit: float | None = None) -> dict[str, Any]:
    """The exported winner and the references, each timed on its own on the target (their ONNX files in ONNX
    Runtime, those files quantized on ``onnxruntime-int8``, the trained networks themselves on the ``torch`` and
    ``cuda`` backends), in ``measure.passes``
    passes beside the space's drift references, corrected to the references' times during the finalists'
    filling (or the search's loop) when those were taken: the verdict is in the units the filling decided in.
    A model measured over the latency budget ``limit`` is measured again and the two pooled (:func:`measure_each`)."""
    from hwnas.cost.latency.backends import backend_class
    from hwnas.workflows.run_dir import load_trained, read_run

    t = cfg.target
    names = ["winner", *references]
    if backend_class(t.backend).times_exported_onnx:
        models = [onnx, *[r["onnx"] for r in references.values()]]
    else:
        dirs = [out / "train", *[Path(r["dir"]) / "train" for r in references.values()]]
        models = []
        for i, d in enumerate(dirs):
            spec, g = read_run(d)
            checkpoint = d / "best.pt"
            trained = load_trained(spec, g, checkpoint) if checkpoint.is_file() else _built(spec, g)
            # as the backend deploys it: the module for torch and cuda, its quantized export for int8 (the
            # calibration's networks were timed that way too)
            models.append(backend_class(t.backend).deployed(trained, out / "measure" / f"model{i}.onnx",
                                                             (1, g.in_channels, g.input_size, g.input_size)))
    timer = run_timer(cfg, geometry, out / "measure" / "drift")
    timer.baselines = _earlier_baselines(out, timer.references)
    # Each model is timed on its own (warm-up, then its rounds), as it runs deployed. Interleaved with a network
    # several times its size, a 0.1 ms network measured 1.3-3x slower here: the big one evicts its weights from
    # the caches between calls (docs/BENCHMARKS.md), which says more about the neighbour than about the network.
    measured, retaken = measure_each(timer, names, models, limit)
    write_measurements(timer, out / "measure" / "measurements.json")
    result = {"backend": t.backend, "threads": t.threads, "batch_size": t.batch_size, "rounds": cfg.measure.rounds,
              "passes": cfg.measure.passes,
              "how": f"each model alone: warm-up, then its timed rounds (median), in {cfg.measure.passes} passes "
                     "beside the drift references, each pass divided by their slow-down (hwnas.search.measured)",
              "winner": _timing(measured[0]), "retaken": retaken}
    result["references"] = {name: _timing(m) for name, m in zip(references, measured[1:])}
    return result


def measure_each(timer: Any, names: list[str], models: list[Any], limit: float | None) -> tuple[list[Any], list[str]]:
    """Each model timed alone (``timer.measure_model``); one measured over ``limit`` is timed again and both
    measurements pooled before the report acts on it, as the closed loop does: no verdict on one measurement.
    (A reference scaled to 97 % of the budget measured 0.204 ms against 0.198 in a run beside two busy processes,
    and the report dropped it as over the budget.) Returns the measurements and the names timed twice."""
    from hwnas.search.measured import measured_twice_if_over

    measured, retaken = [], []
    for name, model in zip(names, models):
        m, again = measured_twice_if_over(lambda: timer.measure_model(name, model), limit)
        measured.append(m)
        if again:
            retaken.append(name)
    return measured, retaken


def _timing(m) -> dict[str, Any]:
    return {"median_ms": m.ms, "spread_ms": m.noise * m.ms, "raw_ms": m.raw_ms, "drift": m.drift,
            "passes_ms": list(m.passes_ms)}


def _earlier_baselines(out: Path, references) -> tuple[float, ...] | None:
    """The drift references' baselines of the finalists' filling, else of the search's loop (same references),
    so that the final measurement is corrected to the machine as it was when the network was chosen."""
    for path in (out / "finalists" / "measurements.json", out / "search_drift" / "measurements.json"):
        try:
            timer = json.loads(path.read_text())["timer"]
        except (OSError, ValueError, KeyError):
            continue
        if timer.get("baselines_ms") and list(timer.get("references", [])) == list(references):
            return tuple(timer["baselines_ms"])
    return None


def _built(spec, geometry):
    from hwnas.workflows.run_dir import build

    return build(spec, geometry).eval()


def run_finalists(cfg: RunConfig, out: Path, space, geometry: dict[str, int], lut_path: str, budgets,
                  searched: dict[str, Any], progress: bool) -> dict[str, Any]:
    """The finalists stage (:mod:`hwnas.run.finalist_stage`) with one drift-aware timer for every filling, its
    log written to ``OUT/finalists/measurements.json`` as the measurements come (a killed stage keeps them)."""
    from hwnas.arch import encode
    from hwnas.run.finalist_stage import stage_finalists

    measure_arch, timer = measuring(cfg, geometry, out / "finalists" / "measured", lut_path)

    def measure(choice):
        measured = measure_arch(encode(space.to_spec(choice)))
        write_measurements(timer, out / "finalists" / "measurements.json")
        return measured

    return stage_finalists(cfg, out, space, lut_path, budgets, searched, measure, progress,
                           announce=lambda line: print(line, flush=True))


def describe_finalists(cfg: RunConfig) -> str:
    f = cfg.finalists
    if not f.count:
        return "the search's choice, filled to the budget" if f.fill else "the search's choice"
    refs = f" + members closest to {', '.join(f.references)}" if f.references else ""
    return (f"top {f.count}{refs}, " + ("filled to [0.9 B, 0.97 B] measured, " if f.fill else "")
            + f"successive halving over {'/'.join(str(e) for e in f.epochs)} epochs")


def describe_budgets(budgets) -> str:
    from hwnas.search.budgets import budget_kind

    return ", ".join(f"<= {v:g} {budget_kind(k).phrase}" for k, v in budgets.to_dict().items()
                     if v is not None) or "no budgets"


# ------------------------------------------------------------------------------------------------ the run
def run(cfg: RunConfig, out: str | Path, progress: bool = True, announce=print) -> dict[str, Any]:
    """Run (or continue) every stage into ``out``; returns ``summary.json``'s content."""
    from hwnas.arch import decode
    from hwnas.report import write_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "config.yaml", dump_config(cfg))
    geometry = dataset_geometry(cfg)
    space = make_space(cfg, geometry)
    stages = Stages(out, STAGES, announce)
    settings = cfg.to_dict()

    lut_key, lut = stages.run(
        "lut", {"target": settings["target"], "lut": settings["lut"], "space": settings["search"]["space"],
                "width_mult": cfg.search.width_mult, "geometry": geometry, "seed": cfg.seed},
        lambda: stage_lut(cfg, out, space, progress),
        f"latency table of {space.name} at {geometry['input_size']} px on {cfg.target.backend}")
    budgets, how = resolve_budgets(cfg, space, lut["path"])
    search_key, searched = stages.run(
        "search", {"after": lut_key, "search": settings["search"], "budgets": budgets.to_dict(),
                   "measure": settings["measure"] if cfg.search.check_measured else None,
                   "dataset": cfg.dataset, "seed": cfg.seed},
        lambda: stage_search(cfg, out, lut["path"], budgets, geometry, progress),
        f"{cfg.search.method} on {space.name}, {describe_budgets(budgets)}")
    finalists_key, finals = stages.run(
        "finalists", {"after": search_key, "finalists": settings["finalists"], "train": settings["train"],
                      "measure": settings["measure"] if cfg.finalists.fill else None},  # filling measures
        lambda: run_finalists(cfg, out, space, geometry, lut["path"], budgets, searched, progress),
        describe_finalists(cfg))
    spec = decode(finals["arch"])
    train_key, trained = stages.run(
        "train", {"after": finalists_key, "train": settings["train"]},
        lambda: _train(cfg, spec, out / "train", progress, adapt=False),
        f"the winner, {cfg.train.epochs} epoch(s) from scratch")
    export_key, exported = stages.run(
        "export", {"after": train_key, "export": settings["export"]},
        lambda: stage_export(cfg, out / "train", out / "export"), ", ".join(cfg.export.formats))
    refs_key, references = stages.run(
        "references", {"references": settings["references"], "train": settings["train"], "dataset": cfg.dataset,
                       "seed": cfg.seed, "geometry": geometry,
                       "budget_ms": budgets.max_latency_ms if cfg.references.scaled else None,
                       "lut": lut_key if cfg.references.scaled else None},
        lambda: stage_references(cfg, out, geometry, progress, budgets.max_latency_ms, lut["path"]),
        ", ".join([*cfg.references.names, *(f"{n} scaled to the budget" for n in cfg.references.scaled)])
        or "none")
    onnx = exported.get("onnx", {}).get("path") or _onnx_for_measure(cfg, out)
    measure_key, measured = stages.run(
        "measure", {"after": [export_key, refs_key], "measure": settings["measure"], "target": settings["target"]},
        lambda: stage_measure(cfg, out, onnx, references, geometry, budgets.max_latency_ms),
        f"exported model on {cfg.target.backend}, {cfg.measure.rounds} rounds")
    inputs = {"config": settings, "geometry": geometry, "lut": lut, "budgets": budgets.to_dict(),
              "budget_rule": how, "search": searched, "finalists": finals, "train": trained, "export": exported,
              "references": references, "measure": measured}
    stages.run("report", {"after": [measure_key, lut_key, search_key, finalists_key], "inputs": digest(inputs)},
               lambda: write_report(out, inputs), "report.html, report.md, summary.json")
    return json.loads((out / "summary.json").read_text())


def _onnx_for_measure(cfg: RunConfig, out: Path) -> str:
    """An ONNX file of the trained winner even when export.formats leaves ONNX out: the measurement needs one."""
    from hwnas.workflows.export import export_arch
    from hwnas.workflows.run_dir import read_run

    spec, geometry = read_run(out / "train")
    return str(export_arch(spec, geometry, out / "train" / "best.pt", out / "measure" / "model.onnx", "onnx").path)

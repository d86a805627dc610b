"""What the run report shows, gathered from a run's outputs into one JSON-able dict (``summary.json``).

Everything in it is read from files the stages wrote (the search result, the training metrics, the table, the
stage records) or computed exactly (per-layer costs), so a report can be regenerated from a run directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from hwnas.cost.profile import per_layer
from hwnas.search.budgets import budget_kind
from hwnas.search.result import SearchResult
from hwnas.space.labels import is_width_label


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill: the rest is still worth showing
            continue
    return out


def theta_history(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """Per decision, the weight of the finally chosen value along the search: its probability per epoch (fbnet,
    tfnas) or per Frank-Wolfe step (hardcore's alpha and beta), or the share of each round's candidates that
    propose it (spos and random: the evolution converging, or not). ``None`` when the result has no history or
    one of a shape it does not know (a method of its own keeps whatever history it likes)."""
    history = result.get("history")
    if isinstance(history, list) and history and all(isinstance(h, dict) for h in history) \
            and isinstance(history[0].get("probs"), dict):
        return _chosen_share(result, [(str(h["epoch"] + 1), h["probs"]) for h in history],
                             "chosen probability per epoch", index=True)
    if isinstance(history, dict) and history.get("bcfw_probs"):  # hardcore: alpha/beta along the BCFW steps
        return _chosen_share(result, [(str(s["step"] + 1), s["probs"]) for s in history["bcfw_probs"]],
                             "chosen probability per BCFW step", index=True)
    if isinstance(history, dict) and history.get("rounds"):  # spos / random: what each round proposed
        return _chosen_share(result, [(str(r["round"] + 1), r["shares"]) for r in history["rounds"]],
                             "share of each round's candidates with the chosen value", index=False)
    if isinstance(history, dict) and isinstance(history.get("alpha"), dict) and history["alpha"]:
        alpha = history["alpha"]
        labels = list(alpha)
        width = max(len(v) for v in alpha.values())
        return {"kind": "final op distribution (alpha)", "rows": labels, "cols": [str(i) for i in range(width)],
                "values": [list(v) + [0.0] * (width - len(v)) for v in alpha.values()]}
    return None


def _chosen_share(result: Mapping[str, Any], steps: list[tuple[str, dict[str, Any]]], kind: str,
                  index: bool) -> dict[str, Any] | None:
    """Rows: the decisions; columns: ``steps``; cell: the weight of the finally chosen value at that step, given
    per decision as a list over the space's values (``index``) or as ``{str(value): share}``."""
    choice = result.get("choice") or {}
    if not steps or not choice:
        return None
    values: dict[str, list] = {}
    if index:
        from hwnas.space import get_space

        g = result["geometry"]
        space = get_space(result["space"], g["input_size"], g["in_channels"], g["num_classes"], g["width_mult"])
        values = {d.label: list(d.values) for d in space.dims()}
    labels = [k for k in steps[0][1] if k in choice and not is_width_label(k)]
    rows = []
    for label in labels:
        row = []
        for _, dist in steps:
            if index:
                i = values[label].index(choice[label]) if choice[label] in values.get(label, []) else None
                row.append(dist[label][i] if i is not None and label in dist else 0.0)
            else:
                row.append(dist.get(label, {}).get(str(choice[label]), 0.0))
        rows.append(row)
    return {"kind": kind, "rows": labels, "cols": [c for c, _ in steps], "values": rows}


def candidates(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The candidates a one-shot search scored: predicted latency and supernet top-1 (none for other methods)."""
    history = result.get("history")
    if not isinstance(history, dict) or not isinstance(history.get("candidates"), list):
        return []
    out = []
    for c in history["candidates"]:
        if isinstance(c, dict) and c.get("predicted_latency_ms") is not None and c.get("val_top1") is not None:
            out.append({"predicted_ms": c["predicted_latency_ms"], "val_top1": c["val_top1"]})
    return out


def training_curve(train_dir: Path) -> list[dict[str, Any]]:
    return [{"epoch": r["epoch"] + 1, "train_loss": r.get("train_loss"), "val_top1": r.get("val_top1"),
             "val_loss": r.get("val_loss")} for r in read_jsonl(train_dir / "metrics.jsonl") if r.get("kind") == "val"]


def budget_checks(budgets: dict[str, Any], result: dict[str, Any], measured_ms: float) -> list[dict[str, Any]]:
    """Each budget with the search's predicted value and the final one, checked as its kind says
    (:data:`~hwnas.search.budgets.BUDGET_KINDS`): latency measured on the target, params and MACs exact, memory
    the modelled peak activation memory at batch 1."""
    out = []
    for key, limit in budgets.items():
        if limit is None:
            continue
        kind = budget_kind(key)
        predicted = kind.value(result)
        value = measured_ms if kind.checked == "measured" else predicted
        out.append({"budget": key, "limit": limit, "units": kind.units, "predicted": predicted,
                    "final": value, "how": kind.checked, "holds": value <= limit})
    return out


def budget_use(budgets: dict[str, Any], measured_ms: float, finals: dict[str, Any]) -> dict[str, Any] | None:
    """How much of the latency budget the exported network uses, measured; ``reason`` when below 90 %."""
    limit = budgets.get("max_latency_ms")
    if limit is None:
        return None
    fraction = measured_ms / limit
    return {"fraction": fraction, "in_band": 0.9 <= fraction <= 1.0,
            "reason": finals.get("reason") if fraction < 0.9 else None}


def winner_label(finals: dict[str, Any]) -> str:
    """What the trained network is, in words: a search candidate, or the space's member closest to a reference
    network that won the finalist stage (then the search's own candidates lost to it, and the report says so)."""
    name = finals.get("winner")
    source = next((f["source"] for f in finals.get("finalists", []) if f["name"] == name), "search")
    if source == "reference":
        return (f"the kept network ({name}: the space's member closest to {name.split(':', 1)[-1]}, which beat "
                "every search candidate in the finalist stage)")
    return "the searched network" if name is None else f"the searched network ({name})"


def compare_with_references(top1: float | None, measured_ms: float, references: list[dict[str, Any]],
                            limit: float | None, label: str = "the searched network") -> dict[str, Any] | None:
    """The trained network (``label``) against the best trained reference that meets the latency budget,
    measured: which is more accurate, by how much (None without a trained reference)."""
    trained = [r for r in references if r.get("test_top1") is not None]
    if not trained or top1 is None:
        return None
    fitting = [r for r in trained if limit is None or r["measured_ms"] <= limit]
    if not fitting:
        return {"reference": None, "fits": False,
                "text": "no trained reference network meets the latency budget, measured: nothing to compare with"}
    best = max(fitting, key=lambda r: r["test_top1"])
    diff = top1 - best["test_top1"]
    verdict = "beat" if diff > 0 else "did not beat"
    return {"reference": best["name"], "fits": True, "difference": diff, "beat": diff > 0,
            "text": f"{label} at {top1:.2f} %, {measured_ms:.3f} ms {verdict} the best reference "
                    f"within the budget, {best['name']} ({best['test_top1']:.2f} %, {best['measured_ms']:.3f} ms): "
                    f"{diff:+.2f} points, one seed of the same recipe"}


MEASUREMENT_LOGS = (("search", "search_drift/measurements.json"), ("finalists", "finalists/measurements.json"),
                    ("references", "references/*_scaled/measurements.json"), ("final", "measure/measurements.json"))


def measurement_log(out: Path) -> list[dict[str, Any]]:
    """Every measurement the run took on the target (the search's loop, the finalists' filling, the scaling of
    references, the final measurement of the trained networks), in order per stage: value decided on, raw
    median, drift, per-pass times."""
    rows = []
    for stage, pattern in MEASUREMENT_LOGS:
        for path in sorted(out.glob(pattern)):
            try:
                log = json.loads(path.read_text())["log"]
            except (json.JSONDecodeError, KeyError, OSError):
                continue
            for entry in log:
                rows.append({"stage": stage, "arch": entry.get("arch"), "time": entry.get("time"),
                             **{k: entry.get(k) for k in ("ms", "raw_ms", "drift", "noise", "passes_ms")}})
    return rows


def stage_times(out: Path) -> dict[str, float]:
    times = {}
    for path in sorted((out / "stages").glob("*.json")):
        try:
            record = json.loads(path.read_text())
            times[record["stage"]] = record["seconds"]
        except (json.JSONDecodeError, KeyError):
            continue
    return times


def build_summary(out: Path, inputs: dict[str, Any]) -> dict[str, Any]:
    from hwnas.arch import decode
    from hwnas.cost.latency.table import LatencyTable

    finals = inputs.get("finalists") or {}
    result = SearchResult.load(finals.get("result") or inputs["search"]["result"])
    geometry = inputs["geometry"]
    spec = decode(result.arch)
    table = LatencyTable.load(inputs["lut"]["path"])
    measured = inputs["measure"]["winner"]
    predicted = result.predicted_latency_ms
    validation_file = Path(inputs["lut"]["path"]).parent / "validation.json"
    validation = json.loads(validation_file.read_text()) if inputs["lut"].get("validation") and \
        validation_file.is_file() else None
    references = [{"name": name, **ref, "measured_ms": inputs["measure"]["references"][name]["median_ms"],
                   "measured_spread_ms": inputs["measure"]["references"][name].get("spread_ms")}
                  for name, ref in inputs["references"].items()]
    checks = budget_checks(inputs["budgets"], result, measured["median_ms"])
    return {
        "format": "hwnas-run-summary", "version": 1,
        "method": result.method, "space": result.space, "dataset": inputs["config"]["dataset"],
        "geometry": geometry, "seed": inputs["config"]["seed"],
        "target": {**inputs["config"]["target"], "table": table.description},
        "arch": result.arch, "params": result.params, "macs": result.macs,
        "peak_memory_mb": result.peak_memory_mb,
        "budgets": inputs["budgets"], "budget_rule": inputs["budget_rule"], "budget_checks": checks,
        "search_attempts": inputs["search"].get("attempts", []),
        "all_budgets_hold": all(c["holds"] for c in checks),
        "latency": {"predicted_ms": predicted, "measured_ms": measured["median_ms"],
                    "measured_spread_ms": measured.get("spread_ms"), "drift": measured.get("drift"),
                    "passes_ms": measured.get("passes_ms"),
                    "error_pct": None if not predicted else 100 * (predicted / measured["median_ms"] - 1)},
        "test_top1": inputs["train"]["test_top1"], "test_top5": inputs["train"].get("test_top5"),
        "train_epochs": inputs["train"]["epochs"],
        "search_time_s": result.search_time_s,
        "stage_times_s": stage_times(out),
        "lut": {k: v for k, v in inputs["lut"].items() if k != "path"},
        "layers": per_layer(spec, geometry, table),
        "candidates": candidates(result),
        "theta": theta_history(result),
        "training": training_curve(Path(inputs["train"]["dir"])),
        "validation_points": None if validation is None else validation["points"],
        "references": references,
        "finalists": finals.get("finalists", []),
        "measurements": measurement_log(out),
        "searched_arch": finals.get("searched_arch", result.arch),
        "winner": finals.get("winner"),
        "budget_use": budget_use(inputs["budgets"], measured["median_ms"], finals),
        "comparison": compare_with_references(inputs["train"]["test_top1"], measured["median_ms"], references,
                                              inputs["budgets"].get("max_latency_ms"), winner_label(finals)),
        "export": inputs["export"],
        "config": inputs["config"],
    }

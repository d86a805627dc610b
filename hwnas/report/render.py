"""The run report as ``report.html`` (one self-contained file: inline CSS and SVG, opens offline) and
``report.md`` (the same tables, the figures as SVG files beside it in ``figures/``)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from hwnas.report import svg

FIGURES = ("fig-arch", "fig-candidates", "fig-trained", "fig-theta", "fig-latency", "fig-training")


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def figures(s: dict[str, Any]) -> dict[str, str]:
    """Every figure of the report, by id, as SVG text."""
    budget = s["budgets"].get("max_latency_ms")
    out = {}
    layers = [r for r in s["layers"] if r["predicted_ms"] is not None]
    out["fig-arch"] = svg.hbars("fig-arch", "The chosen architecture, block by block: predicted latency",
                                [(r["label"], r["op"], r["predicted_ms"]) for r in layers],
                                "predicted ms per block (calibrated table); share of the whole prediction, whose "
                                "calibration constant is not drawn",
                                shares=[r["share_pct"] or 0.0 for r in layers])
    cands = s["candidates"]
    out["fig-candidates"] = svg.scatter(
        "fig-candidates", "Evaluated candidates (supernet accuracy on the architecture split)",
        [{"label": f"{s['method']} candidates ({len(cands)})",
          "points": [(c["predicted_ms"], c["val_top1"]) for c in cands]}],
        "predicted latency (ms)", "supernet val top-1 (%)", front=True, vline=budget, vline_label="budget")
    trained = [{"label": "chosen network", "points": [(s["latency"]["measured_ms"], s["test_top1"])],
                "names": [f"{s['method']} (chosen)"], "size": 6, "marker": "*", "annotate": True}]
    refs = [r for r in s["references"] if r.get("test_top1") is not None]
    if refs:
        trained.append({"label": "reference networks", "points": [(r["measured_ms"], r["test_top1"]) for r in refs],
                        "names": [r["name"] for r in refs], "size": 5, "annotate": True})
    out["fig-trained"] = svg.scatter(
        "fig-trained", "Trained networks: test top-1 vs measured latency (same recipe)", trained,
        "measured latency on the target (ms)", "test top-1 (%)", front=True, vline=budget, vline_label="budget")
    theta = s["theta"]
    out["fig-theta"] = svg.heatmap("fig-theta", f"Architecture distribution: {theta['kind']}" if theta else
                                   "Architecture distribution", theta["rows"] if theta else [],
                                   theta["cols"] if theta else [], theta["values"] if theta else [],
                                   _theta_axis(theta))
    series = []
    if s["validation_points"]:
        p = s["validation_points"]
        series.append({"label": "validation networks", "points": list(zip(p["measured_ms"], p["predicted_ms"]))})
    if s["latency"]["predicted_ms"] is not None:
        series.append({"label": "chosen network (exported)", "size": 6, "marker": "*",
                       "points": [(s["latency"]["measured_ms"], s["latency"]["predicted_ms"])]})
    out["fig-latency"] = svg.scatter("fig-latency", "Predicted vs measured latency", series, "measured ms",
                                     "predicted ms", diagonal=True)
    curve = s["training"]
    out["fig-training"] = svg.lines(
        "fig-training", "Training the chosen network",
        [{"label": "val top-1 (%)", "points": [(r["epoch"], r["val_top1"]) for r in curve
                                               if r["val_top1"] is not None]}], "epoch", "val top-1 (%)")
    return out


def _budget_rows(s: dict[str, Any]) -> list[list[str]]:
    return [[c["budget"], f"{_num(c['limit'])} {c['units']}", _num(c["predicted"]), f"{_num(c['final'])} ({c['how']})",
             "holds" if c["holds"] else "VIOLATED"] for c in s["budget_checks"]]


def _attempts_text(s: dict[str, Any]) -> str:
    """The measured closed loop of the search stage in one sentence ('' when the first network passed)."""
    attempts = s.get("search_attempts") or []
    if len(attempts) < 2:
        return ""
    steps = []
    for a in attempts:
        if "error" in a:
            steps.append(f"searching under {a['budget_ms']:.3f} ms failed ({a['error']})")
        else:
            steps.append(f"under {a['budget_ms']:.3f} ms predicted the search chose a network measured at "
                         f"{a['measured_ms']:.3f} ms")
    return "Measured before training: " + "; then ".join(steps) + "."


def _layer_rows(s: dict[str, Any]) -> list[list[str]]:
    return [[r["label"], r["op"], "x".join(map(str, r["out_shape"])), _num(r["macs"]), _num(r["params"]),
             f"{r['activation_mb']:.3f}", _num(r["predicted_ms"]),
             "-" if r["share_pct"] is None else f"{r['share_pct']:.1f} %"] for r in s["layers"]]


def _ref_rows(s: dict[str, Any]) -> list[list[str]]:
    rows = [[f"{s['method']} (chosen)", f"{s['latency']['measured_ms']:.3f}", _num(s["test_top1"]),
             _num(s["params"]), _num(s["macs"])]]
    rows += [[r["name"], f"{r['measured_ms']:.3f}", _num(r.get("test_top1")), _num(r["params"]), _num(r["macs"])]
             for r in s["references"]]
    return rows


def _finalist_rows(s: dict[str, Any]) -> list[list[str]]:
    rounds = sorted({sc["round"] for f in s.get("finalists", []) for sc in f["scores"]})
    rows = []
    for f in s.get("finalists", []):
        by_round = {sc["round"]: sc["val_top1"] for sc in f["scores"]}
        frac = f.get("fraction_of_budget")
        rows.append([f["name"] + (" (kept)" if f["name"] == s.get("winner") else ""), f["source"],
                     _num(f.get("measured_ms")), "-" if frac is None else f"{frac:.0%}",
                     *[_num(by_round.get(r)) for r in rounds]])
    return rows


def _finalist_head(s: dict[str, Any]) -> list[str]:
    rounds = sorted({(sc["round"], sc["epochs"]) for f in s.get("finalists", []) for sc in f["scores"]})
    return ["finalist", "from", "measured ms (untrained)", "of budget",
            *[f"round {r + 1}: val top-1 % ({e:g} ep)" for r, e in rounds]]


def _use_text(s: dict[str, Any]) -> str:
    """How much of the budget the result uses, and whether it beat the references that fit, in plain words."""
    parts = []
    use = s.get("budget_use")
    if use:
        parts.append(f"The network uses {use['fraction']:.0%} of its latency budget, measured"
                     + (f" (below 90 %: {use['reason']})" if use.get("reason") else "") + ".")
    comparison = s.get("comparison")
    if comparison:
        parts.append(comparison["text"][0].upper() + comparison["text"][1:] + ".")
    return " ".join(parts)


def _short(arch: str | None) -> str:
    """A network's short name in a table: 8 hex digits of its arch text's SHA-256."""
    import hashlib

    return hashlib.sha256(str(arch).encode()).hexdigest()[:8]


def _measurement_rows(s: dict[str, Any]) -> list[list[str]]:
    return [[m["stage"], _short(m["arch"]), _num(m["ms"]), _num(m["raw_ms"]), _num(m["drift"], 3),
             " ".join(f"{p:.4f}" for p in m.get("passes_ms") or [])] for m in s.get("measurements", [])]


MEASUREMENT_HEAD = ["stage", "network (digest)", "ms (drift-corrected)", "raw median ms", "drift", "per pass ms"]
BUDGET_HEAD = ["budget", "limit", "predicted (search)", "final", "verdict"]
LAYER_HEAD = ["layer", "op", "output", "MACs", "params", "activations MiB", "predicted ms", "share"]
REF_HEAD = ["network", "measured ms", "test top-1 %", "params", "MACs"]


def _html_table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    out = [f"<table class='{cls}'><thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td class='{'bad' if v == 'VIOLATED' else ''}'>{_esc(v)}</td>"
                                    for v in row) + "</tr>")
    return "".join(out) + "</tbody></table>"


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _spread(lat: dict[str, Any]) -> str:
    """`` (+-x over N passes, drift d)`` of a measurement, or '' for a summary written before passes were kept."""
    if lat.get("passes_ms") is None:
        return ""
    return (f" (+-{lat['measured_spread_ms']:.3f} over {len(lat['passes_ms'])} passes, drift "
            f"{lat['drift']:.2f})")


def _headline(s: dict[str, Any]) -> str:
    lat = s["latency"]
    verdict = "every budget holds, measured" if s["all_budgets_hold"] else "a budget is VIOLATED"
    err = "" if lat["error_pct"] is None else f" (predicted {lat['predicted_ms']:.3f} ms, {lat['error_pct']:+.1f} %)"
    return (f"{s['method']} on {s['space']}, {s['dataset']}: test top-1 {_num(s['test_top1'])} % after "
            f"{s['train_epochs']} epoch(s); measured {lat['measured_ms']:.3f} ms{_spread(lat)}"
            f"{err} on {s['target']['backend']}, {s['target']['threads']} thread(s), batch "
            f"{s['target']['batch_size']}: {verdict}.")


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:.85em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left}
th{background:#f4f4f4}code{background:#f4f4f4;padding:1px 4px;word-break:break-all}
.ok{background:#e6f4e6;border:1px solid #7c7;padding:8px}.bad{background:#fbe3e3;border:1px solid #d77;padding:8px}
svg.figure{display:block;margin:10px 0;max-width:100%;height:auto}"""


def render_html(s: dict[str, Any], figs: dict[str, str]) -> str:
    times = ", ".join(f"{k} {v:.0f} s" for k, v in s["stage_times_s"].items())
    v = s["lut"].get("validation")
    val = "" if not v else (f"<p>Latency table validated on {v['n']} other networks: MAPE {v['mape']:.1f} %, "
                            f"{v['within_5pct']:.0f} % within ±5 %, Spearman {v['spearman']:.3f}.</p>")
    body = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>hwnas run report</title>",
        f"<meta name='viewport' content='width=device-width'><style>{CSS}</style></head><body>",
        f"<h1>hwnas run: {_esc(s['method'])} on {_esc(s['space'])}, {_esc(s['dataset'])}</h1>",
        f"<p class='{'ok' if s['all_budgets_hold'] else 'bad'}' id='verdict'>{_esc(_headline(s))}</p>",
        f"<p>Architecture: <code>{_esc(s['arch'])}</code></p>",
        "<h2>Budgets</h2>", f"<p>Latency budget: {_esc(s['budget_rule'])}.</p>",
        _html_table(BUDGET_HEAD, _budget_rows(s), "budgets"),
        *([f"<p>{_esc(_attempts_text(s))}</p>"] if _attempts_text(s) else []),
        *([f"<p id='budget-use'>{_esc(_use_text(s))}</p>"] if _use_text(s) else []),
        *(["<h2>Finalists</h2>", "<p>Each finalist moved into [0.9 B, 0.97 B] measured, then trained in "
           "successive-halving rounds with the final recipe and scored on a held-out tenth of the training split; the best of the last "
           "round was trained for the result.</p>", _html_table(_finalist_head(s), _finalist_rows(s), "finalists")]
          if s.get("finalists") else []),
        "<h2>Architecture</h2>", figs["fig-arch"], _html_table(LAYER_HEAD, _layer_rows(s), "layers"),
        "<h2>Accuracy vs latency</h2>", figs["fig-trained"], _html_table(REF_HEAD, _ref_rows(s), "references"),
        figs["fig-candidates"],
        "<h2>Search: the architecture distribution</h2>", figs["fig-theta"],
        "<h2>Predicted vs measured latency</h2>", val, figs["fig-latency"],
        "<h2>Training</h2>", figs["fig-training"],
        *(["<h2>Every measurement on the target</h2>", "<p>Each network timed alone in passes, beside drift "
           "reference networks of the space; a pass is divided by how much slower the references ran than at "
           "their baseline (docs/SEARCH.md, a measurement that noise cannot fool).</p>",
           _html_table(MEASUREMENT_HEAD, _measurement_rows(s), "measurements")] if s.get("measurements") else []),
        f"<h2>Run</h2><p>Stage times: {_esc(times)}. Search time {s['search_time_s']:.0f} s. Target table: "
        f"{_esc(s['target']['table'])}. Seed {s['seed']}. The resolved configuration is in config.yaml, every "
        "number of this page in summary.json.</p>",
        "<script>document.body.dataset.figures = String(document.querySelectorAll('svg.figure').length);"
        "document.body.dataset.rendered = 'yes';</script>",
        "</body></html>",
    ]
    return "\n".join(body)


def render_markdown(s: dict[str, Any]) -> str:
    def fig(name: str, caption: str) -> str:
        return f"![{caption}](figures/{name}.svg)"

    parts = [f"# hwnas run: {s['method']} on {s['space']}, {s['dataset']}", "", _headline(s), "",
             f"Architecture: `{s['arch']}`", "", "## Budgets", "", f"Latency budget: {s['budget_rule']}.", "",
             _md_table(BUDGET_HEAD, _budget_rows(s)), "", *([_attempts_text(s), ""] if _attempts_text(s) else []),
             *([_use_text(s), ""] if _use_text(s) else []),
             *(["## Finalists", "", _md_table(_finalist_head(s), _finalist_rows(s)), ""] if s.get("finalists")
               else []),
             "## Architecture", "", fig("fig-arch", "per-layer latency"),
             "", _md_table(LAYER_HEAD, _layer_rows(s)), "", "## Accuracy vs latency", "",
             fig("fig-trained", "trained networks"), "", _md_table(REF_HEAD, _ref_rows(s)), "",
             fig("fig-candidates", "candidates"), "", "## Search", "", fig("fig-theta", "architecture distribution"),
             "", "## Predicted vs measured latency", "", fig("fig-latency", "predicted vs measured"), "",
             "## Training", "", fig("fig-training", "training curve"), "",
             *(["## Every measurement on the target", "", _md_table(MEASUREMENT_HEAD, _measurement_rows(s)), ""]
               if s.get("measurements") else [])]
    return "\n".join(parts)


def write_all(out: Path, s: dict[str, Any]) -> dict[str, str]:
    from hwnas.fileio import write_text_atomic

    figs = figures(s)
    for name, text in figs.items():
        write_text_atomic(out / "figures" / f"{name}.svg", text)
    write_text_atomic(out / "report.html", render_html(s, figs))
    write_text_atomic(out / "report.md", render_markdown(s))
    return {"html": str(out / "report.html"), "markdown": str(out / "report.md")}


def _theta_axis(theta: dict | None) -> str:
    kind = (theta or {}).get("kind", "")
    for word, axis in (("epoch", "epoch"), ("BCFW", "Frank-Wolfe step"), ("round", "search round (generation)")):
        if word in kind:
            return axis
    return "candidate index"

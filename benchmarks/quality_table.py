"""benchmarks/search_quality.py's table: per budget and network, means and stds over seeds, paired differences
to random search and to the best in-budget reference with their signs, and one rule for every row: a network
measured over its budget cannot win. Pure functions of the collected rows (no training, no timing)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

METHODS = ("fbnet", "tfnas", "spos", "hardcore", "random")
BASELINE = "random"  # the search every hwnas method must beat with the same compute
REFERENCES = {"MobileNetV2": "mobilenetv2_100", "MobileNetV3-L": "mobilenetv3_large_100", "MnasNet-A1": "mnasnet_a1"}
BAND_LOW = 0.9  # a result measured below BAND_LOW x B leaves latency unused (hwnas.search.filling.LOW)
MIN_SEEDS = 3  # fewer paired seeds give no verdict


def within(ms: float | None, budget: float) -> bool:
    return ms is not None and BAND_LOW * budget <= ms <= budget


def aggregate(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One line per (budget, network): per-seed top-1 and ms, means and stds, the budget used, and whether every
    seed is done (``complete``), any seed measured over the budget (``over_budget``), all in the band."""
    lines = []
    for key in sorted({(e["index"], e["network"]) for e in entries}, key=lambda k: (k[0], _order(k[1]))):
        group = sorted((e for e in entries if (e["index"], e["network"]) == key), key=lambda e: e["seed"])
        budget = group[0]["budget_ms"]
        top1 = {e["seed"]: e["test_top1"] for e in group if e["test_top1"] is not None}
        ms = {e["seed"]: e["measured_ms"] for e in group if e["measured_ms"] is not None}
        labels = {e.get("label") for e in group}
        lines.append({"index": key[0], "budget_ms": budget, "network": key[1], "kind": group[0]["kind"],
                      "label": labels.pop() if len(labels) == 1 else "varies", "seeds": len(group),
                      "top1": top1, "ms": ms, "top1_mean": _mean(top1.values()), "top1_std": _std(top1.values()),
                      "ms_mean": _mean(ms.values()), "ms_std": _std(ms.values()),
                      "used": [v / budget for v in ms.values()],
                      "complete": len(top1) == len(ms) == len(group),
                      "over_budget": any(v > budget for v in ms.values()),
                      "in_band": len(ms) == len(group) and all(within(v, budget) for v in ms.values()),
                      "winners": [e["winner"] for e in group if e.get("winner")],
                      "search_s": _mean(e["search_s"] for e in group if e.get("search_s") is not None),
                      "finalist_cpu_s": _mean(e["finalist_cpu_s"] for e in group
                                              if e.get("finalist_cpu_s") is not None)})
    return compare(lines)


def paired(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any] | None:
    """``a``'s top-1 minus ``b``'s, seed by seed, over the seeds both have: mean, per-seed differences, signs."""
    seeds = sorted(set(a["top1"]) & set(b["top1"]))
    if not seeds:
        return None
    return _signed({s: a["top1"][s] - b["top1"][s] for s in seeds})


def can_win(line: Mapping[str, Any]) -> bool:
    """The one rule: an hwnas method's line, every seed trained and measured, none measured over its budget."""
    return (line["kind"] == "search" and line["network"] != BASELINE and line["complete"]
            and not line["over_budget"])


def best_reference(lines: Sequence[Mapping[str, Any]], index: int) -> Mapping[str, Any] | None:
    """The reference with the best mean top-1 among those measured within budget ``index`` on every seed."""
    fits = [a for a in lines if a["index"] == index and a["kind"] == "reference" and a["complete"]
            and not a["over_budget"]]
    return max(fits, key=lambda a: a["top1_mean"]) if fits else None


def compare(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each search line's paired differences to random search and to the best in-budget reference of its budget,
    and whether it wins: it can win, and beats both in mean paired difference."""
    for line in lines:
        here = [a for a in lines if a["index"] == line["index"]]
        rand = next((a for a in here if a["network"] == BASELINE), None)
        ref = best_reference(lines, line["index"])
        search = line["kind"] == "search"
        line["vs_random"] = paired(line, rand) if search and rand is not None and rand is not line else None
        line["best_reference"] = None if ref is None else f"{ref['network']} {ref['label']}"
        line["vs_reference"] = paired(line, ref) if search and ref is not None else None
        line["wins"] = bool(can_win(line) and line["vs_random"] and line["vs_random"]["mean"] > 0
                            and (ref is None or (line["vs_reference"] and line["vs_reference"]["mean"] > 0)))
    return lines


def verdicts(lines: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per budget: is it won, by the best hwnas method that can win, against random and the reference."""
    texts = []
    for index in sorted({a["index"] for a in lines}):
        here = [a for a in lines if a["index"] == index]
        ours = [a for a in here if a["kind"] == "search" and a["network"] != BASELINE]
        eligible = [a for a in ours if can_win(a)]
        rand = next((a for a in here if a["network"] == BASELINE), None)
        ref = best_reference(lines, index)
        if not eligible:
            text = "NOT won: no hwnas method's network is trained and measured within the budget on every seed"
        else:
            best = max(eligible, key=lambda a: a["top1_mean"])
            n = min([p["n"] for p in (best["vs_random"], best["vs_reference"]) if p] or [0])
            text = (f"{'WON' if best['wins'] else 'NOT won'}: best hwnas method {best['network']} "
                    f"{best['top1_mean']:.2f} % at {best['ms_mean']:.3f} ms; vs random {_diff(best['vs_random'])}"
                    f"; vs {best['best_reference'] or 'no reference (none meets the budget)'} "
                    f"{_diff(best['vs_reference']) if ref else ''}".rstrip())
            winners = [a["network"] for a in eligible if a["wins"]]
            if winners:
                text += f"; winners: {', '.join(winners)}"
            if n < MIN_SEEDS:
                text = f"preliminary, {n} paired seed(s) < {MIN_SEEDS}: {text}"
        over = [a for a in ours if a["over_budget"]]
        if over:
            text += "; over budget measured alone, cannot win: " + ", ".join(
                f"{a['network']} ({100 * (max(a['used']) - 1):+.1f} %)" for a in over)
        if rand is None:
            text += "; no random-search row"
        elif rand["over_budget"]:
            text += f"; random search itself over budget ({100 * (max(rand['used']) - 1):+.1f} %)"
        texts.append(f"budget {here[0]['budget_ms']:.3f} ms: {text}")
    return texts


def flags(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every search result measured outside ``[0.9 B, B]`` (with the filling's reason) and every reference
    measured over its budget."""
    out = []
    for e in sorted(entries, key=lambda e: (e["index"], _order(e["network"]), e["seed"])):
        ms, budget = e["measured_ms"], e["budget_ms"]
        if ms is None or within(ms, budget) or (e["kind"] == "reference" and ms <= budget):
            continue
        text = (f"seed {e['seed']}, {e['network']} at {budget:.3f} ms: measured {ms:.3f} ms "
                f"({100 * ms / budget:.0f} % of the budget)")
        fill = e.get("fill")
        if fill is not None:
            text += (f"; the filling had it in the band ({100 * fill['fraction']:.0f} %)" if fill["in_band"]
                     else f"; the filling: {fill['reason']}")
        if e["kind"] == "reference" and not e.get("meets", True):
            text += "; no scaling of it meets the budget"
        out.append(text)
    return out


def format_table(lines: Sequence[Mapping[str, Any]]) -> str:
    rows = ["| budget ms | network | seeds | test top-1 | measured ms | used of budget | in [0.9 B, B] | vs random "
            "(per seed) | vs best in-budget reference (per seed) | search time | finalist CPU | finalist winners |",
            "|--:|---|--:|--:|--:|--:|:-:|--:|--:|--:|--:|---|"]
    for a in lines:
        name = a["network"] if a["kind"] == "search" else f"{a['network']} {a['label']}"
        if a["wins"]:
            name = f"**{name}** (wins)"
        elif a["over_budget"]:
            name += " (over budget: cannot win)"
        used = "-" if not a["used"] else f"{100 * min(a['used']):.0f}" + (
            f"-{100 * max(a['used']):.0f}" if len(a["used"]) > 1 else "") + " %"
        rows.append(f"| {a['budget_ms']:.3f} | {name} | {len(a['top1'])}/{a['seeds']} | "
                    f"{_pm(a['top1_mean'], a['top1_std'], 2, ' %')} | {_pm(a['ms_mean'], a['ms_std'], 3)} | {used} | "
                    f"{'yes' if a['in_band'] else 'no'} | {_diff(a['vs_random'])} | {_diff(a['vs_reference'])} | "
                    f"{_secs(a['search_s'])} | {_secs(a['finalist_cpu_s'])} | {' '.join(a['winners']) or '-'} |")
    return "\n".join(rows)


def stage_evidence(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What each method's *own* candidates did in the finalist stage, per budget and method over seeds.

    Every pool also holds the space's member closest to MobileNetV2, and random search's pool does too: when that
    member wins a stage, the method returns the same network as random search and the main table ties them by
    construction. This says whether the search found anything better: the number of distinct candidates it
    offered, how often one of them won the stage, its best first-round score (``val_top1`` after 1 epoch on the
    finalist images, every entry trained) against the member's and against random search's best own candidate,
    paired by seed. First-round scores rank networks only roughly (the recipe check's cheap recipes reach Kendall
    tau 0.44-0.72 against 10 epochs): evidence for the closing note, not a verdict."""
    def first(f: Mapping[str, Any]) -> float:
        return f["scores"][0]["val_top1"]

    per: dict[tuple[int, str], dict[int, dict[str, Any]]] = {}
    for row in rows:
        own = [f for f in row["finalists"] if f["source"] == "search"]
        member = [f for f in row["finalists"] if f["source"] != "search"]
        if not own:
            continue
        per.setdefault((row["index"], row["method"]), {})[row["seed"]] = {
            "budget_ms": row["budget_ms"], "distinct": len(own), "own_won": row.get("winner_source") == "search",
            "own_first": max(first(f) for f in own), "member_first": first(member[0]) if member else None,
            "own_mix": op_mix(f["arch"] for f in own), "member_mix": op_mix(f["arch"] for f in member)}
    lines = []
    for (index, method), seeds in sorted(per.items(), key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        rand = per.get((index, BASELINE), {})
        vs_member = {s: v["own_first"] - v["member_first"] for s, v in seeds.items() if v["member_first"] is not None}
        vs_random = ({s: v["own_first"] - rand[s]["own_first"] for s, v in seeds.items() if s in rand}
                     if method != BASELINE else {})
        lines.append({"index": index, "budget_ms": next(iter(seeds.values()))["budget_ms"], "method": method,
                      "seeds": sorted(seeds), "distinct": _mean(v["distinct"] for v in seeds.values()),
                      "own_won": sum(v["own_won"] for v in seeds.values()),
                      "own_first": _mean(v["own_first"] for v in seeds.values()),
                      "vs_member": _signed(vs_member), "vs_random": _signed(vs_random),
                      "own_mix": _mean_mix(v["own_mix"] for v in seeds.values()),
                      "member_mix": _mean_mix(v["member_mix"] for v in seeds.values())})
    return lines


def macs_agreement(rows: Sequence[Mapping[str, Any]], macs: Any) -> str:
    """How often the finalist with the most MACs (``macs(arch)``) had its stage's best first-round score: every
    finalist sits in the same budget band measured, so this asks whether capacity at equal latency is what the
    short rounds reward (a training-free prior a search could use, if long training agreed)."""
    hits, stages, chance = 0, 0, 0.0
    for row in rows:
        entries = [(f["scores"][0]["val_top1"], macs(f["arch"])) for f in row["finalists"]]
        if len(entries) < 2:
            continue
        stages += 1
        hits += max(entries, key=lambda e: e[1])[0] == max(e[0] for e in entries)
        chance += 1 / len(entries)
    if not stages:
        return "no stage with two or more finalists"
    return (f"the finalist with the most MACs had its stage's best first-round score in {hits} of {stages} stages "
            f"(a random pick: {chance:.1f} expected)")


MIX = ("skip", "e1", "e3", "e6")


def op_mix(archs: Any) -> dict[str, float]:
    """The share of the searched layers (stem and head excluded) that are skipped or inverted residuals of
    expansion 1, 3 or 6, over the arch texts ``archs`` (:func:`hwnas.arch.encode`): how much capacity the
    candidates spend their latency on."""
    counts = dict.fromkeys(MIX, 0)
    for arch in archs:
        for stage in arch.split("|")[2:-2]:  # the attributes and the stem before, the last conv and head after
            for block in stage.split():
                kind = "skip" if block.startswith("skip") else next(
                    (f"e{e}" for e in (1, 3, 6) if f"_e{e}_" in block + "_"), None)
                if kind is not None:
                    counts[kind] += 1
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def _mean_mix(mixes: Any) -> dict[str, float]:
    mixes = [m for m in mixes if m]
    return {k: statistics.fmean(m[k] for m in mixes) for k in MIX} if mixes else {}


def _mix_text(mix: Mapping[str, float]) -> str:
    return "-" if not mix else "/".join(f"{100 * mix[k]:.0f}" for k in MIX)


def format_stage_evidence(lines: Sequence[Mapping[str, Any]]) -> str:
    rows = ["| budget ms | method | seeds | own candidates (mean distinct) | stages won by an own candidate | best own, "
            "1st round val | vs the member, 1st round (per seed) | vs random's best own, 1st round (per seed) | "
            "layers skip/e1/e3/e6 %: own | member |",
            "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for a in lines:
        rows.append(f"| {a['budget_ms']:.3f} | {a['method']} | {len(a['seeds'])} | {a['distinct']:.1f} | "
                    f"{a['own_won']}/{len(a['seeds'])} | {a['own_first']:.2f} % | {_diff(a['vs_member'])} | "
                    f"{_diff(a['vs_random'])} | {_mix_text(a['own_mix'])} | {_mix_text(a['member_mix'])} |")
    return "\n".join(rows)


def _signed(diffs: Mapping[int, float]) -> dict[str, Any] | None:
    if not diffs:
        return None
    seeds = sorted(diffs)
    values = [diffs[s] for s in seeds]
    return {"mean": statistics.fmean(values), "diffs": values, "seeds": seeds, "n": len(seeds),
            "signs": " ".join("+" if d > 0 else "-" if d < 0 else "0" for d in values)}


def _order(network: str) -> int:
    names = [*METHODS, *REFERENCES]
    return names.index(network) if network in names else len(names)


def _mean(values: Any) -> float | None:
    values = list(values)
    return statistics.fmean(values) if values else None


def _std(values: Any) -> float | None:
    values = list(values)
    return statistics.stdev(values) if len(values) > 1 else None


def _pm(mean: float | None, std: float | None, digits: int, unit: str = "") -> str:
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "") + unit


def _diff(p: Mapping[str, Any] | None) -> str:
    return "-" if not p else f"{p['mean']:+.2f} ({p['signs']})"


def _secs(s: float | None) -> str:
    return "-" if s is None else f"{s / 60:.1f} min"

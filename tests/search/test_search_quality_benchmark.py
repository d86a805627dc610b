"""benchmarks/search_quality.py's and recipe_ranking.py's pure pieces: the table's one rule (a network measured over
its budget cannot win), paired differences and their signs, the verdicts, the flags, and the recipe check's
Kendall tau (no training, no timing)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the benchmark imports its sibling recipe_ranking
    spec = importlib.util.spec_from_file_location("search_quality", BENCHMARKS / "search_quality.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def recipes(bench):
    return sys.modules["recipe_ranking"]


@pytest.fixture
def table(bench):
    return sys.modules["quality_table"]


@pytest.fixture
def measuring(bench):
    return sys.modules["quality_measure"]


BUDGET = 1.0
TOP1 = {  # network -> top-1 per seed 0, 1, 2
    "fbnet": [90.0, 90.5, 89.0], "tfnas": [91.0, 91.0, 91.0], "spos": [95.0, 95.0, 95.0],
    "hardcore": [88.0, 88.0, 88.0], "random": [89.5, 90.0, 89.5],
    "MobileNetV2": [89.0, 89.0, 89.0], "MobileNetV3-L": [92.0, 92.0, 92.0], "MnasNet-A1": [89.8, 89.9, 90.0]}
MS = {"fbnet": 0.95, "tfnas": 0.97, "spos": 1.25, "hardcore": 0.80, "random": 0.93,
      "MobileNetV2": 0.90, "MobileNetV3-L": 1.10, "MnasNet-A1": 0.85}


def entries(top1=TOP1, ms=MS, seeds=(0, 1, 2), index=0, budget=BUDGET):
    out = []
    for network, values in top1.items():
        kind = "reference" if network[0].isupper() else "search"
        for s in seeds:
            e = {"seed": s, "index": index, "budget_ms": budget, "network": network, "kind": kind,
                 "arch": network, "test_top1": values[s], "measured_ms": ms[network], "drift": 1.0}
            if kind == "search":
                e.update(winner="search1", search_s=60.0, finalist_cpu_s=600.0,
                         fill={"measured_ms": ms[network], "fraction": ms[network] / budget, "in_band": True,
                               "reason": None, "steps": 2})
            else:
                e.update(label="w0.5 d1", meets=True)
            out.append(e)
    return out


def test_over_budget_networks_cannot_win_and_the_best_in_budget_reference_is_the_bar(table):
    lines = {a["network"]: a for a in table.aggregate(entries())}
    # spos has the best top-1 of all, 25 % over its budget: it cannot win, whatever its accuracy
    assert lines["spos"]["over_budget"] and not table.can_win(lines["spos"]) and not lines["spos"]["wins"]
    # MobileNetV3-L (92 %) is over the budget measured: the bar is MnasNet-A1, the best reference within it
    assert lines["fbnet"]["best_reference"] == "MnasNet-A1 w0.5 d1"
    assert lines["tfnas"]["wins"]  # 91 %: beats random (89.67) and MnasNet-A1 (89.9) on every seed
    assert not lines["fbnet"]["wins"]  # beats random on average (+0.17), loses to MnasNet-A1 (-0.07)
    assert not lines["random"]["wins"] and not lines["MnasNet-A1"]["wins"]  # neither is an hwnas method
    assert not lines["hardcore"]["wins"]


def test_paired_differences_are_seed_by_seed_with_signs(table):
    lines = {a["network"]: a for a in table.aggregate(entries())}
    p = lines["fbnet"]["vs_random"]
    assert p["seeds"] == [0, 1, 2] and p["diffs"] == pytest.approx([0.5, 0.5, -0.5])
    assert p["mean"] == pytest.approx(1 / 6) and p["signs"] == "+ + -"
    q = lines["fbnet"]["vs_reference"]
    assert q["diffs"] == pytest.approx([0.2, 0.6, -1.0]) and q["signs"] == "+ + -"
    assert lines["random"]["vs_random"] is None  # not against itself
    assert lines["MobileNetV2"]["vs_reference"] is None  # references are the bar, not judged against it
    # a seed that only one side has is left out of the pairing
    partial = [e for e in entries() if not (e["network"] == "random" and e["seed"] == 2)]
    p = {a["network"]: a for a in table.aggregate(partial)}["tfnas"]["vs_random"]
    assert p["seeds"] == [0, 1] and p["n"] == 2


def test_aggregate_means_stds_and_budget_use(table):
    lines = {a["network"]: a for a in table.aggregate(entries())}
    fb = lines["fbnet"]
    assert fb["top1_mean"] == pytest.approx(89.8333, abs=1e-3) and fb["top1_std"] == pytest.approx(0.7638, abs=1e-3)
    assert fb["used"] == pytest.approx([0.95] * 3) and fb["in_band"] and fb["complete"]
    assert not lines["hardcore"]["in_band"]  # 80 % of its budget: latency left unused
    missing = [e for e in entries() if not (e["network"] == "tfnas" and e["seed"] == 1)] + [
        dict(next(e for e in entries() if e["network"] == "tfnas" and e["seed"] == 1), test_top1=None)]
    tf = {a["network"]: a for a in table.aggregate(missing)}["tfnas"]
    assert not tf["complete"] and not table.can_win(tf) and not tf["wins"]  # an unfinished line cannot win yet


def test_verdicts_name_the_best_eligible_method_and_the_excluded(table):
    text = table.verdicts(table.aggregate(entries()))
    assert len(text) == 1
    assert text[0].startswith("budget 1.000 ms: WON: best hwnas method tfnas 91.00 %")
    assert "winners: tfnas" in text[0] and "cannot win: spos (+25.0 %)" in text[0]
    assert "preliminary" not in text[0]
    one_seed = table.verdicts(table.aggregate(entries(seeds=(0,))))[0]
    assert "preliminary, 1 paired seed(s) < 3" in one_seed
    no_win = dict(TOP1, tfnas=[89.0, 89.0, 89.0])
    assert "NOT won: best hwnas method fbnet" in table.verdicts(table.aggregate(entries(top1=no_win)))[0]
    all_over = dict(MS, fbnet=1.01, tfnas=1.2, hardcore=1.05)
    assert "NOT won: no hwnas method's network" in table.verdicts(table.aggregate(entries(ms=all_over)))[0]


def test_verdict_without_any_reference_in_budget(table):
    ms = dict(MS, MobileNetV2=1.3, **{"MnasNet-A1": 1.2})
    lines = {a["network"]: a for a in table.aggregate(entries(ms=ms))}
    assert lines["tfnas"]["best_reference"] is None and lines["tfnas"]["wins"]  # only random remains as a bar
    assert "no reference (none meets the budget)" in table.verdicts(list(lines.values()))[0]


def test_flags_results_outside_the_band_with_the_filling_reason(table):
    es = entries()
    for e in es:
        if e["network"] == "hardcore":
            e["fill"] = dict(e["fill"], in_band=False, reason="the other budgets stop it growing further")
    text = table.flags(es)
    assert any("seed 0, spos" in f and "125 % of the budget" in f and "in the band" in f for f in text)
    assert any("seed 2, hardcore" in f and "the other budgets stop it growing" in f for f in text)
    assert any("MobileNetV3-L" in f for f in text)  # a reference over its budget
    assert not any("MobileNetV2" in f or "MnasNet" in f for f in text)  # under the budget: a reference may be
    table = table.format_table(table.aggregate(es))
    assert "**tfnas** (wins)" in table and "spos (over budget: cannot win)" in table
    assert "| +0.17 (+ + -) |" in table  # fbnet against random


def test_recipe_agreement_kendall_tau(recipes):
    long = {f"n{i}": 80.0 + i for i in range(12)}
    same_order = {k: v / 2 for k, v in long.items()}
    stats = recipes.agreement(long, same_order)
    assert stats["tau"] == pytest.approx(1) and stats["rho"] == pytest.approx(1) and stats["n"] == 12
    assert recipes.shown_to_rank(stats)
    swapped = dict(same_order, n0=same_order["n1"] + 0.1)  # one adjacent pair swapped: tau = 1 - 2 * 1 / 66
    assert recipes.agreement(long, swapped)["tau"] == pytest.approx(1 - 2 / 66)
    reverse = {k: -v for k, v in long.items()}
    assert recipes.agreement(long, reverse)["tau"] == pytest.approx(-1) and not recipes.shown_to_rank(
        recipes.agreement(long, reverse))
    few = recipes.agreement({k: long[k] for k in list(long)[:8]}, same_order)  # only the common networks count
    assert few["n"] == 8 and few["tau"] == pytest.approx(1) and not recipes.shown_to_rank(few)
    assert recipes.agreement({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0})["n"] == 2  # nan below three
    assert not recipes.shown_to_rank(recipes.agreement({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0}), 2)


def test_final_recipe_is_refused_until_shown_to_rank(recipes, tmp_path):
    nets = [{"id": f"n{i}", "arch": f"arch{i}", "kind": "uniform", "predicted_ms": 0.1 * i, "layers": i,
             "macs": 1e6 * i} for i in range(12)]
    recipes.write_json(tmp_path / "recipe" / "selection.json", nets)
    assert recipes.final_recipe_check(tmp_path, "long", recipes.RECIPES) == "long"
    with pytest.raises(SystemExit, match="not shown to rank"):
        recipes.final_recipe_check(tmp_path, "e3", recipes.RECIPES)
    with pytest.raises(SystemExit, match="unknown recipe"):
        recipes.final_recipe_check(tmp_path, "e99", recipes.RECIPES)
    for i, net in enumerate(nets):
        for name, top1 in (("long", 80.0 + i), ("e3", 70.0 + i)):
            recipes.write_json(tmp_path / "trainings" / name / f"{recipes.digest(net['arch'])}_s0.json",
                               {"test_top1": top1, "recipe_name": name, "cpu_s": 1.0, "wall_s": 2.0})
    assert recipes.final_recipe_check(tmp_path, "e3", recipes.RECIPES) == "e3"
    report = recipes.recipe_report(tmp_path, {"long": recipes.RECIPES["long"], "e3": recipes.RECIPES["e3"]})
    assert "e3 against long: Kendall tau 1.00, Spearman rho 1.00 over 12 networks: ranks like long" in report
    assert recipes.spent(tmp_path)["long"] == {"trainings": 12, "cpu_s": 12.0, "wall_s": 24.0}


def test_settings_are_frozen_and_quick_defaults(bench, recipes, tmp_path, table):
    recipes.check_settings(tmp_path, {"budgets": [0.15, 0.35]})
    recipes.check_settings(tmp_path, {"budgets": [0.15, 0.35]})  # the same: fine
    with pytest.raises(SystemExit, match="budgets"):
        recipes.check_settings(tmp_path, {"budgets": [0.2]})
    args = bench.parse_args(["--out", str(tmp_path), "table", "--seeds", "1"])
    assert args.out == tmp_path and args.seeds == [1] and args.budgets == [0.15, 0.35, 0.6]
    assert args.final_recipe == "long" and args.methods == list(table.METHODS) and args.threads == 1
    quick = bench.parse_args(["--quick", "all", "--methods", "fbnet"])
    assert quick.seeds == [0] and quick.budgets == [0.35] and quick.methods == ["fbnet"]
    assert quick.recipe_set is recipes.QUICK_RECIPES and quick.out == Path("runs/bench_quality_quick")


OWN_ARCH = ("act=re se=in | stem_k3_s1_c8 | skip_s1_c8 | ir_r1_k3_s2_e1_c16_g2 ir_r1_k5_s1_e3_c16 skip_s1_c16 | "
            "cn_r1_k1_s1_c992 | head")
MEMBER_ARCH = "act=re se=in | stem_k3_s1_c8 | skip_s1_c8 | ir_r1_k3_s2_e6_c16 ir_r1_k3_s1_e6_c16 | cn_r1_k1_s1_c992 | head"


def stage_row(seed, method, own, member, winner_source="reference", index=0):
    """A finalist row: ``own`` first-round scores of the search's candidates, the member's."""
    finalists = [{"name": f"search{i + 1}", "source": "search", "arch": OWN_ARCH,
                  "scores": [{"round": 0, "epochs": 1, "val_top1": v}]} for i, v in enumerate(own)]
    finalists.append({"name": "ref:mobilenetv2_100", "source": "reference", "arch": MEMBER_ARCH,
                      "scores": [{"round": 0, "epochs": 1, "val_top1": member}]})
    return {"seed": seed, "method": method, "index": index, "budget_ms": BUDGET, "finalists": finalists,
            "winner_source": winner_source}


def test_stage_evidence_compares_own_candidates_with_the_member_and_random(table):
    qt = table
    rows = [stage_row(0, "fbnet", [70.0, 75.0], 74.0, "search"), stage_row(1, "fbnet", [71.0], 73.0),
            stage_row(0, "random", [72.0, 73.0, 71.0], 74.0), stage_row(1, "random", [74.0], 73.0)]
    lines = {a["method"]: a for a in qt.stage_evidence(rows)}
    fb = lines["fbnet"]
    assert fb["distinct"] == 1.5 and fb["own_won"] == 1 and fb["own_first"] == pytest.approx(73.0)
    assert fb["vs_member"]["diffs"] == [1.0, -2.0] and fb["vs_member"]["signs"] == "+ -"
    assert fb["vs_random"]["diffs"] == [2.0, -3.0]
    assert lines["random"]["vs_random"] is None  # random is not compared with itself
    text = qt.format_stage_evidence(qt.stage_evidence(rows))
    assert "| 1.000 | fbnet | 2 | 1.5 | 1/2 | 73.00 % | -0.50 (+ -) | -0.50 (+ -) | 50/25/25/0 | 33/0/0/67 |" in text


def test_macs_agreement_counts_stages_won_by_the_most_macs(table):
    qt = table
    macs = {OWN_ARCH: 1, MEMBER_ARCH: 2}.__getitem__
    rows = [stage_row(0, "fbnet", [70.0], 74.0), stage_row(1, "fbnet", [75.0], 74.0),
            {"finalists": stage_row(2, "fbnet", [70.0], 0.0)["finalists"][:1]}]  # one finalist: not a stage
    text = qt.macs_agreement(rows, macs)
    assert "in 1 of 2 stages (a random pick: 1.0 expected)" in text
    assert qt.macs_agreement([], macs) == "no stage with two or more finalists"


def test_final_measurements_taken_in_turns_pooled_and_retaken_when_over(measuring):
    from hwnas.search.measured import Measurement

    calls = []
    values = {"a": iter([1.0, 1.2, 0.9, 5.0]), "b": iter([2.0, 2.2, 2.1, 2.0])}  # a: 0.9-1.2, under 1.5

    def time_arch(arch):
        calls.append(arch)
        return Measurement.from_passes([next(values[arch])])

    saved = {}
    records = {}
    judged = {"a": 1.5, "b": 2.05}  # b's pooled median 2.1 is over its budget: measured once more
    measuring.measured_in_turns(judged, time_arch, records, 3, save=lambda arch, r: saved.update({arch: dict(r)}),
                            announce=lambda line: None)
    assert calls == ["a", "b", "a", "b", "a", "b", "b"]  # in turns, then b again
    assert records["a"]["ms"] == pytest.approx(1.0) and not records["a"]["retaken"]
    assert records["a"]["count"] == 3 and records["a"]["first_ms"] == pytest.approx(1.0)
    assert records["b"]["retaken"] and records["b"]["count"] == 4
    assert records["b"]["ms"] == pytest.approx(2.05)  # median of 2.0, 2.2, 2.1, 2.0
    assert saved["b"]["count"] == 4
    # a rerun with everything measured takes nothing; a higher count tops each record up once
    calls.clear()
    measuring.measured_in_turns(judged, time_arch, records, 3, announce=lambda line: None)
    assert calls == []
    values["a"] = iter([1.1])
    values["b"] = iter([2.0])
    measuring.measured_in_turns(judged, time_arch, records, 4, announce=lambda line: None)
    assert calls == ["a"]  # b has 4 already (its retake counts)


def test_trainings_are_claimed_so_side_by_side_queues_share_them(recipes, tmp_path):
    import os

    lock = tmp_path / "trainings" / "long" / "abc_s0.lock"
    with recipes.claimed(lock) as mine:
        assert mine and lock.read_text() == str(os.getpid())
    assert not lock.exists()  # released
    lock.write_text(str(os.getppid()))  # a live process holds it
    with recipes.claimed(lock) as mine:
        assert not mine
    assert lock.exists()
    arch = "a network"
    lock.rename(tmp_path / "trainings" / "long" / f"{recipes.digest(arch)}_s0.lock")
    lines = []
    assert recipes.train_cached(tmp_path, arch, 0, "long", {"epochs": 1}, announce=lines.append, share=True) is None
    assert "another process" in lines[0]
    with pytest.raises(SystemExit, match="another process"):
        recipes.train_cached(tmp_path, arch, 0, "long", {"epochs": 1}, announce=lines.append)
    held = tmp_path / "trainings" / "long" / f"{recipes.digest(arch)}_s0.lock"
    held.write_text("999999999")  # its process is gone: a stale lock is taken over
    with recipes.claimed(held) as mine:
        assert mine

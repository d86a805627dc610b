"""benchmarks/supernet_ranking.py's pure helpers: the rank statistics, the architecture picking, the step plan,
the learning curve and the table from a cache (no training)."""

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the benchmark imports its sibling ranking_report
    spec = importlib.util.spec_from_file_location("supernet_ranking", BENCHMARKS / "supernet_ranking.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def report(bench):
    return sys.modules["ranking_report"]


@pytest.fixture
def supernets(bench):
    return sys.modules["ranking_supernets"]


@pytest.fixture
def settings(bench):
    return sys.modules["ranking_settings"]


def test_rank_quality_and_top_overlap(report):
    truth = [80.0, 81.0, 82.0, 83.0, 84.0, 85.0]
    same = report.rank_quality([1, 2, 3, 4, 5, 6], truth)
    assert same["tau"] == pytest.approx(1) and same["rho"] == pytest.approx(1) and same["top5"] == 1
    reverse = report.rank_quality([6, 5, 4, 3, 2, 1], truth)
    assert reverse["tau"] == pytest.approx(-1) and reverse["rho"] == pytest.approx(-1)
    assert reverse["top5"] == pytest.approx(4 / 5)  # the top 5 of 6 share all but one
    assert report.top_overlap([0, 0, 0, 9, 9, 9], truth, k=3) == 1.0
    assert report.rank_quality([1, 2], [1, 2])["tau"] != report.rank_quality([1, 2], [1, 2])["tau"]  # nan: too few


def test_pick_near_is_nearest_free_and_inside_the_band(bench):
    pool = [{"a": i} for i in range(6)]
    latency = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    taken = set()
    assert bench.pick_near(pool, latency, [0.31, 0.29], taken) == [2, 1]
    assert bench.pick_near(pool, latency, [0.1], taken, low=0.35, high=0.6) == [3]
    with pytest.raises(ValueError, match="enlarge --pool"):
        bench.pick_near(pool, latency, [0.3], {0, 1, 2, 3, 4, 5})


def test_candidate_pool_is_seeded_distinct_and_spans_light_to_heavy(bench):
    from hwnas.space import get_space

    space = get_space("fbnet", 28, 1, 10, 0.25)
    pool = bench.candidate_pool(space, 60, seed=3)
    assert pool == bench.candidate_pool(space, 60, seed=3)
    assert len({tuple(sorted(c.items())) for c in pool}) == 60
    assert all(space.contains(c) for c in pool)
    skips = [sum(v == "skip" for v in c.values()) for c in pool]
    heavy = [sum(v == h for v, h in zip(c.values(), space.heaviest().values())) for c in pool]
    assert max(skips) > 10 and max(heavy) > 15  # light and heavy members beside the uniform ones
    assert bench.heavy_draw(space, random.Random(0)) == bench.heavy_draw(space, random.Random(0))


def test_plan_fills_the_minutes_in_tenths(supernets):
    plan = supernets.plan_steps(step_s=0.3, minutes=10, batches_per_epoch=375)
    assert plan["epochs"] % supernets.CURVE_POINTS == 0 and plan["steps_per_epoch"] <= 375
    assert plan["steps"] == plan["epochs"] * plan["steps_per_epoch"] and 1900 <= plan["steps"] <= 2000
    big = supernets.plan_steps(step_s=0.1, minutes=30, batches_per_epoch=375)
    assert big["epochs"] == 50 and big["steps_per_epoch"] == 360
    assert supernets.curve_by_tenths([{"loss": float(i)} for i in range(20)]) == [i + 0.5 for i in range(0, 20, 2)]


def test_table_from_a_partial_cache(report, tmp_path, settings):
    archs = [{"id": f"{g[0]}{i:02d}", "group": g} for g in ("whole", "band") for i in range(4)]
    (tmp_path / "selection.json").write_text(json.dumps({"archs": archs, "band_ms": [0.7, 1.0], "low_ms": 0.1,
                                                         "high_ms": 2.0}))
    (tmp_path / "truth").mkdir()
    for k, a in enumerate(archs):
        for seed in (0, 1):
            if a["id"] != "b03" or seed == 0:  # one training not done yet
                (tmp_path / "truth" / f"{a['id']}_s{seed}.json").write_text(json.dumps(
                    {"test_top1": 80.0 + k + 0.1 * seed}))
    folder = tmp_path / "supernets" / "independent-uniform_10m"
    folder.mkdir(parents=True)
    (folder / "scores.json").write_text(json.dumps({
        "config": "independent-uniform", "minutes": 10, "steps": 100, "train_wall_s": 600, "train_cpu_s": 590,
        "curve": [2.3, 2.2], "scores": {a["id"]: float(k) for k, a in enumerate(archs)}}))
    table = report.format_table(tmp_path, json.loads((tmp_path / "selection.json").read_text()), list(settings.CONFIGS))
    row = next(line for line in table.splitlines() if line.startswith("| independent-uniform"))
    assert "| 1.00 / 1.00 / 1.0 | 1.00 / 1.00 / 1.0 | 1.00 / 1.00 / 1.0 |" in row
    assert row.endswith("| 1.00 / 1.00 / 1.00 |")  # the ceiling over the architectures with both seeds
    assert "| MACs | - | - | - | - | - |" in table  # no baselines cached yet
    assert "7 of 8" not in report.format_truth(tmp_path, {"archs": archs}) and "15 of 16" in report.format_truth(
        tmp_path, {"archs": archs})
    assert "2.300 -> 2.200" in report.format_curves(tmp_path)

"""The finalist stage: every method's pool and preference, the reference members, successive halving, and the
stage of ``hwnas run`` end to end on the tiny space for every method."""

from __future__ import annotations

import json

import pytest

from hwnas import zoo
from hwnas.run import load_config
from hwnas.run.finalist_stage import stage_finalists
from hwnas.search import Budgets
from hwnas.search.finalists import (Finalist, filled_finalists, finalist_entries, reference_member,
                                   successive_halving)
from hwnas.search.preference import marginal_scores, result_preference, scores_from_json, scores_to_json
from hwnas.space import get_space

from .conftest import TINY_YAML
from .test_methods import QUICK, run, target

METHODS = ("fbnet", "tfnas", "spos", "random", "hardcore")


def test_successive_halving_keeps_the_better_half_and_returns_the_best():
    entries = [Finalist(f"n{i}", "search", {"x": i}) for i in range(5)]
    calls = []

    def train(f, r, epochs):  # the larger x, the better; longer rounds add a little
        calls.append((f.name, r, epochs))
        return 10.0 * f.choice["x"] + epochs

    winner = successive_halving(entries, train, [1, 3], announce=lambda line: None)
    assert winner.name == "n4"
    assert [c for c in calls if c[1] == 0] == [(f"n{i}", 0, 1) for i in range(5)]
    assert sorted(c[0] for c in calls if c[1] == 1) == ["n2", "n3", "n4"]  # ceil(5 / 2)
    assert entries[4].scores == [{"round": 0, "epochs": 1, "val_top1": 41.0}, {"round": 1, "epochs": 3,
                                                                                 "val_top1": 43.0}]
    with pytest.raises(ValueError, match="epochs"):
        successive_halving(entries, train, [])


def test_reference_members_are_the_nearest_op_everywhere():
    space = get_space("fbnet", 28, 1, 10, 0.5)
    member = reference_member(space, zoo.get("mobilenetv2_100").spec)
    assert set(member.values()) == {"k3_e6"}  # MobileNetV2: 3x3 depthwise, expansion 6, no SE
    entries = finalist_entries(space, [member, space.lightest(), space.lightest()], 2,
                               {"mobilenetv2_100": zoo.get("mobilenetv2_100").spec})
    assert [e.name for e in entries] == ["search1", "search2"]  # the reference member was already a candidate
    with pytest.raises(ValueError, match="count"):
        finalist_entries(space, [member], 0)


def test_marginal_scores_and_their_json_form():
    scored = [({"a": "x", "d": 2}, 60.0), ({"a": "x", "d": 3}, 50.0), ({"a": "y", "d": 2}, 40.0)]
    scores = marginal_scores(scored)
    assert scores["a"]["x"] > 0 > scores["a"]["y"] and scores["d"][2] == pytest.approx(0.0)
    back = scores_from_json(json.loads(json.dumps(scores_to_json(scores))))
    assert back == scores and isinstance(next(iter(back["d"])), int)
    assert marginal_scores(scored[:1]) == {}


@pytest.fixture(scope="module")
def budget(search_space, search_lut):
    return target(search_space, search_lut, 0.6)


@pytest.mark.parametrize("method", METHODS)
def test_the_finalist_stage_of_every_method(method, tmp_path, search_space, search_lut, fashion_dir, budget):
    """The method leaves a pool and a preference; the stage fills every finalist into the band of a simulated
    target and trains them in two rounds; result.json has every finalist's scores."""
    budgets = Budgets(max_latency_ms=budget)
    result = run(method, tmp_path / "search", search_lut, fashion_dir, budgets, overrides=QUICK[method])
    assert result["finalist_pool"] and result["finalist_pool"][0] == result["choice"]
    assert result_preference(result), "the method left no preference for the filling"
    cfg = load_config("quick", {"data_dir": str(fashion_dir), "search.space": TINY_YAML,
                                "search.width_mult": 1.0, "finalists.count": 2, "finalists.epochs": [1, 1],
                                "finalists.limit": None, "train.batch_size": 32})
    from hwnas.cost.latency.table import LatencyTable

    table = LatencyTable.load(search_lut)
    measured = []

    def measure(choice):  # the target runs every network 10 % slower than the table says
        measured.append(choice)
        return 1.1 * table.predict(search_space.to_spec(choice))

    out = stage_finalists(cfg, tmp_path, search_space, str(search_lut), budgets,
                          {"result": str(tmp_path / "search" / "result.json")}, measure, progress=False,
                          announce=lambda line: None)
    finals = out["finalists"]
    # (the reference member may fill into a network a search finalist already is: then it is kept once)
    assert finals[0]["source"] == "search" and len(finals) >= 2
    assert all(f["scores"] and f["scores"][0]["round"] == 0 for f in finals)
    assert measured and all(f["measured_ms"] <= budget for f in finals)
    saved = json.loads((tmp_path / "finalists" / "result.json").read_text())
    assert saved["arch"] == out["arch"] and saved["winner"] == out["winner"] and len(saved["finalists"]) == len(finals)
    assert saved["searched_arch"] == result["arch"] and saved["method"] == method
    before = len(measured)  # a rerun reuses every filling and every training
    again = stage_finalists(cfg, tmp_path, search_space, str(search_lut), budgets,
                            {"result": str(tmp_path / "search" / "result.json")}, measure, progress=False,
                            announce=lambda line: None)
    assert again == out and len(measured) == before


def test_filled_finalists_cache_their_fills_and_keep_each_network_once(tmp_path):
    """A killed stage measures nothing twice; a changed start or budget is filled anew; two entries filled into the
    same network are one finalist."""
    calls = []

    def fill(entry):
        calls.append(entry.name)
        end = {"x": 3} if entry.name in ("a", "b") else {"x": 9}  # a and b end on the same network
        return {"choice": end, "measured_ms": 0.95, "budget_ms": 1.0, "fraction": 0.95, "in_band": True,
                "reason": "", "steps": []}

    entries = [Finalist("a", "search", {"x": 1}), Finalist("b", "search", {"x": 2}), Finalist("c", "reference", {})]
    cache = tmp_path / "fill.json"
    kept = filled_finalists(entries, fill, cache, 1.0, announce=lambda line: None)
    assert [f.name for f in kept] == ["a", "c"] and kept[0].choice == {"x": 3}
    assert kept[0].extra["fill"]["start"] == {"x": 1} and "choice" not in kept[0].extra["fill"]
    assert calls == ["a", "b", "c"]
    filled_finalists(entries, fill, cache, 1.0, announce=lambda line: None)
    assert calls == ["a", "b", "c"]  # all cached
    entries[0] = Finalist("a", "search", {"x": 4})
    filled_finalists(entries, fill, cache, 1.0, announce=lambda line: None)
    assert calls == ["a", "b", "c", "a"]  # a new start
    filled_finalists(entries, fill, cache, 0.5, announce=lambda line: None)
    assert calls == ["a", "b", "c", "a", "a", "b", "c"]  # a new budget

"""Per-layer profile and the MicroNet score."""

from __future__ import annotations

import json

import pytest

from hwnas import zoo
from hwnas.cli import main
from hwnas.cost.counting import count_macs, count_params
from hwnas.cost.latency.build import build_arch_table
from hwnas.cost.profile import MICRONET_REFERENCES, micronet_score, profile

ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c16 ir_r1_k5_s1_e3_c16_se0.25 | cn_r1_k1_s1_c32 | head"
GEOMETRY = {"input_size": 32, "in_channels": 3, "num_classes": 10}


def test_micronet_reference_networks_score_two_and_bits_count_proportionally():
    params, ops, per_mac = MICRONET_REFERENCES["imagenet"]
    assert micronet_score(params, ops / per_mac) == pytest.approx(2.0)  # the reference itself
    assert micronet_score(params, ops / per_mac, bits=16) == pytest.approx(1.0)  # 16-bit counts half
    assert micronet_score(3.4e6, 328e6, "spos") == pytest.approx(2.0)  # SPOS's normalisation: OneShot = 2
    with pytest.raises(ValueError, match="track"):
        micronet_score(1, 1, "mnist")


def test_fbnet_b_scores_as_in_the_spos_tables_give_or_take_the_counting_rules():
    spec = zoo.get("fbnet_b").spec
    score = micronet_score(count_params(spec), count_macs(spec, 224), "spos")
    assert 2.1 < score < 2.4  # SPOS lists 2.19 (4.5M params: theirs leaves BN out, ours counts every parameter)


def test_profile_layers_sum_to_the_totals_and_to_the_prediction(tmp_path):
    from hwnas.arch import decode

    spec = decode(ARCH)
    table = build_arch_table([("tiny", spec)], tmp_path / "t.json", input_size=32, num_classes=10, warmup=0, rounds=2,
                             progress=False).table
    prof = profile(spec, GEOMETRY, table, measure=True, rounds=3)
    layers = prof["layers"]
    assert [r["label"] for r in layers][0] == "stem" and layers[-1]["label"] == "head"
    assert sum(r["macs"] for r in layers) == prof["macs"] and sum(r["params"] for r in layers) == prof["params"]
    assert sum(r["predicted_ms"] for r in layers) == pytest.approx(prof["predicted_ms"])
    assert sum(r["share_pct"] for r in layers) == pytest.approx(100.0)
    assert all(r["measured_ms"] > 0 for r in layers) and prof["measured_ms"] > 0
    assert sum(r["measured_share_pct"] for r in layers) == pytest.approx(100.0)


def test_profile_cli_per_layer_json(tmp_path, capsys):
    assert main(["profile", ARCH, "--input-size", "32", "--num-classes", "10", "--per-layer", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["layers"][0]["out_shape"] == [8, 16, 16] and d["micronet_score"] > 0 and d["measured_ms"] is None
    assert main(["profile", ARCH, "--input-size", "32", "--num-classes", "10", "--per-layer"]) == 0
    out = capsys.readouterr().out
    assert "layer" in out and "whole network" in out


def test_micronet_cost_is_separable_and_a_search_budget(tmp_path, search_space, fashion_dir):
    from hwnas.cost.models import MicroNetCost
    from hwnas.search import Budgets, search
    from hwnas.search.budgets import InfeasibleBudgetError
    from hwnas.cost.separable import SeparableCost
    from tests.search.test_methods import SMALL, TINY_YAML

    cost = MicroNetCost.for_space(search_space)
    separable = SeparableCost(cost, search_space)
    for choice in (search_space.heaviest(), separable.lightest()):
        assert separable.cost(choice) == pytest.approx(cost.cost(search_space.to_spec(choice)), rel=1e-9)
    low, high = separable.minimum(), separable.cost(search_space.heaviest())
    limit = low + 0.3 * (high - low)
    result = search("spos", TINY_YAML, "fashion-mnist", out=tmp_path, budgets=Budgets(max_micronet_score=limit),
                    overrides=SMALL["spos"], batch_size=32, data_dir=str(fashion_dir), progress=False,
                    tensorboard=False)
    assert result["budgets_met"]["max_micronet_score"]["met"]
    assert micronet_score(result["params"], result["macs"]) <= limit * (1 + 1e-9)
    with pytest.raises(InfeasibleBudgetError, match="micronet"):
        search("spos", TINY_YAML, "fashion-mnist", out=tmp_path / "x", budgets=Budgets(max_micronet_score=low / 2),
               overrides=SMALL["spos"], batch_size=32, data_dir=str(fashion_dir), progress=False, tensorboard=False)

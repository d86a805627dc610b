"""Each method returns its own choice, and that choice follows the accuracy signal.

The tiny space is searched on learnable fake data with one candidate crippled: the cheapest op (``k3``) of the
first stride-2 slot (``s1_b0``: no residual, so a zero projection leaves nothing of the input downstream). Every
network through it scores chance; every other network learns. A method that ignored accuracy and returned the
lightest feasible network would return the crippled op (it is the cheapest), and a method whose selection did
not follow its own ranking (top score, argmax of theta or alpha) fails the consistency checks. See
docs/RELIABILITY.md, "Mutation check".
"""

from __future__ import annotations

import math

import pytest
import torch

from hwnas.cost.latency.table import LatencyTable
from hwnas.search import Budgets
from hwnas.search.budgets import make_budgets
from hwnas.search.parts.projection import project
from hwnas.supernet import Supernet

from .conftest import TINY_YAML
from .test_methods import run, target

CRIPPLED_SLOT, CRIPPLED_OP = "s1_b0", "k3"
LABEL = f"{CRIPPLED_SLOT}_op"

# Settings under which the tiny supernet learns the fake data in a few seconds: more steps and a higher learning
# rate than the smoke settings, since the point here is what the method makes of a real accuracy signal.
LEARN = {
    "spos": {"epochs": 3, "lr": 0.2, "recal_batches": 2, "score_batches": 2, "evolution.population": 6,
             "evolution.top_k": 3, "evolution.mutations": 3, "evolution.crossovers": 3,
             "evolution.generations": 2, "sharing": "independent"},
    "random": {"epochs": 3, "lr": 0.2, "recal_batches": 2, "score_batches": 2, "random_candidates": 10,
               "evolution.population": 5, "evolution.top_k": 2, "sharing": "independent"},
    "fbnet": {"epochs": 3, "warmup_epochs": 1, "samples": 2, "lr": 0.2, "theta_lr": 0.1},
    "tfnas": {"epochs": 3, "warmup_epochs": 1, "lr": 0.2, "theta_lr": 0.1},
    # Independent weights for spos, random and hardcore: in their default entangled supernets every inverted
    # residual of the slot shares the crippled projection, so no single candidate could be crippled.
    "hardcore": {"heaviest_epochs": 1, "epochs": 2, "lr": 0.2, "bcfw.steps": 10, "sharing": "independent"},
}


@pytest.fixture
def crippled(monkeypatch):
    """Every supernet built in this test has ``k3`` of slot ``s1_b0`` output zeros: its projection conv is zero
    and its gradient is zeroed, so training cannot revive it (the weights keep their names and shapes, so
    checkpoints and extraction work as usual)."""
    build = Supernet.__init__

    def init(self, space, *args, **kwargs):
        build(self, space, *args, **kwargs)
        layer = self.choice_layers[CRIPPLED_SLOT]
        weight = layer.module(layer.index(CRIPPLED_OP)).conv_pwl.conv.weight
        with torch.no_grad():
            weight.zero_()
        weight.register_hook(torch.zeros_like)

    monkeypatch.setattr(Supernet, "__init__", init)


def crippled_index(space) -> int:
    return next(d for d in space.dims() if d.label == LABEL).values.index(CRIPPLED_OP)


def final_scores(probs: dict[str, list[float]], space) -> dict[str, dict]:
    values = {d.label: d.values for d in space.dims()}
    return {label: {v: math.log(max(p, 1e-12)) for v, p in zip(values[label], ps)} for label, ps in probs.items()}


def argmax_of(probs: dict[str, list[float]], space) -> dict:
    values = {d.label: d.values for d in space.dims()}
    return {label: values[label][max(range(len(ps)), key=ps.__getitem__)] for label, ps in probs.items()}


@pytest.mark.parametrize("method", list(LEARN))
def test_method_avoids_a_crippled_candidate_and_returns_its_own_choice(method, crippled, tmp_path, search_space,
                                                                       fake_lut, learn_dir):
    limit = target(search_space, fake_lut, 0.45)
    result = run(method, tmp_path, fake_lut, learn_dir, Budgets(max_latency_ms=limit),
                 overrides=LEARN[method], batch_size=64)
    choice = result["choice"]
    assert result["predicted_latency_ms"] <= limit
    assert choice[LABEL] != CRIPPLED_OP, f"{method} returned the crippled candidate: {choice}"
    hard = make_budgets(Budgets(max_latency_ms=limit), search_space, LatencyTable.load(fake_lut))
    if method in ("spos", "random"):
        ranked = result["history"]["candidates"]
        best = max(ranked, key=lambda c: c["val_top1"])
        assert choice == ranked[0]["choice"] and result["supernet_val_top1"] == best["val_top1"]
        working = [c["val_top1"] for c in ranked if c["choice"][LABEL] != CRIPPLED_OP]
        broken = [c["val_top1"] for c in ranked if c["choice"][LABEL] == CRIPPLED_OP]
        assert max(working) >= 25.0, "the supernet learned the learnable data (chance is 10 %)"
        assert all(b < max(working) - 10.0 for b in broken), (broken, working)
    elif method in ("fbnet", "tfnas"):
        probs = result["history"][-1]["probs"]
        crippled_p = probs[LABEL][crippled_index(search_space)]
        # theta starts uniform (1/3 each); over seeds 0-4 the crippled op ended at 0.17-0.24
        assert crippled_p < 0.3, f"theta did not move away from the crippled op: {probs[LABEL]}"
        argmax = argmax_of(probs, search_space)
        assert all(result["argmax_choice"][k] == v for k, v in argmax.items())
        if method == "fbnet":  # the projection of the argmax onto the budget
            expected = project(search_space, final_scores(probs, search_space), hard, result["argmax_choice"],
                               largest_widths=True)
            assert choice == expected
        else:  # the ops reach_target did not change are the argmax's; it lands within 1 % under the target
            changed = {move.split("=")[0] for step in result["final_scaling"]
                       if step["phase"].startswith("change ") for move in step["phase"][7:].split(", ")}
            if not result["projected"]:
                assert all(choice[k] == v for k, v in argmax.items() if k not in changed)
            assert -1.0 <= result["target_error_pct"] <= 0.0
    else:  # hardcore: the rounded BCFW solution, projected only if rounding broke a budget
        alpha = result["history"]["alpha"][LABEL]
        # BCFW starts at the lightest feasible network, i.e. with all of alpha on the crippled (cheapest) op; over
        # seeds 0-4 it ended at 0.0-0.25
        assert alpha[crippled_index(search_space)] < 1 / 3, alpha
        assert result["every_iterate_feasible"]
        if not result["projected"]:
            assert choice == result["rounded_choice"]
        decided = {k: v for k, v in argmax_of({**result["history"]["alpha"], **result["history"]["beta"]},
                                              search_space).items()}
        assert choice[LABEL] == decided[LABEL]


def test_fbnet_theta_moves_to_cheaper_ops_under_a_large_latency_weight(tmp_path, search_space, fake_lut,
                                                                      learn_dir):
    """FBNet's loss CE * alpha * log(LAT)^beta (Eq. 1): with a large beta the latency factor dominates, so the
    expected latency of P_theta falls while theta trains, and ends below a run with a negligible weight."""
    settings = {"epochs": 3, "warmup_epochs": 1, "samples": 0, "theta_lr": 0.2, "mode": "sampled", "hard": False}
    runs = {}
    for beta in (0.01, 6.0):
        runs[beta] = run("fbnet", tmp_path / str(beta), fake_lut, learn_dir, Budgets(),
                         overrides={**settings, "beta": beta}, batch_size=64)
    heavy = [row["expected_cost"] for row in runs[6.0]["history"]]
    light = [row["expected_cost"] for row in runs[0.01]["history"]]
    assert heavy[-1] < heavy[0] * 0.97, heavy  # theta moved towards cheaper ops
    assert heavy[-1] < light[-1], (heavy, light)
    assert runs[6.0]["predicted_latency_ms"] <= runs[0.01]["predicted_latency_ms"]

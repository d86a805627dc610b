"""Data-parallel runs under a real `torchrun` with 2 gloo processes on CPU (hwnas.distributed).

Each test runs the same command once as one process and once as two ranks on the same global batch, and checks
that the two-rank run finishes (the ranks checked on every architecture step and every epoch that they agree)
with every rank exiting cleanly, that only rank 0 wrote, and that it ends where the single process does: the same
architecture, and weights equal up to float summation order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hwnas.cost.latency.build import build_space_table
from hwnas.search import Budgets
from hwnas.search.api import load_table
from hwnas.search.budgets import make_budgets
from hwnas.search.registry import get_method, method_names
from hwnas.space import get_space
from tests.data.fakes import make_fake_fashion
from tests.distributed._launch import ROOT, hwnas

FIXED_WIDTHS = tuple(m for m in method_names() if not get_method(m).searches_widths)

TINY_YAML = str(ROOT / "tests" / "search" / "tiny_space.yaml")
ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c16 ir_r1_k5_s1_e3_c16_se0.25 | head"
# spos and random at lr 0.01, not their 0.05: in channels_last (the CPU default, hwnas.train.layout) one process
# normalises with the CPU's NHWC BatchNorm kernel, whose float32 batch variance is ~1e-5 relative off (NCHW's:
# ~1e-7), where N ranks use float64 global statistics; at lr 0.05 two epochs amplify that to 2.9e-4 in the weights
# and running variances, at 0.01 the runs agree to ~1e-5.
SETTINGS = {
    "spos": ["epochs=2", "recal_batches=1", "score_batches=2", "evolution.population=6", "evolution.top_k=3",
             "evolution.mutations=3", "evolution.crossovers=3", "evolution.generations=2", "lr=0.01"],
    "random": ["epochs=2", "recal_batches=1", "score_batches=2", "random_candidates=6", "evolution.population=4",
               "evolution.top_k=2", "lr=0.01"],
    # fbnet at lr 0.01, not its 0.1: at 0.1 its 12 weight steps amplify float summation order (6e-8 after the
    # first step) to 5e-4 in the weights and 1e-3 in the running variances, as much between one process in NCHW
    # and the same process in channels_last as between 1 process and 2 ranks (the Gumbel masks are bit-identical
    # in both); at 0.01 the runs agree to ~1e-7 (2e-6 in the running variances), and masks drawn per rank instead
    # of over the global batch still miss by 0.4 in the weights.
    "fbnet": ["epochs=2", "warmup_epochs=1", "samples=1", "mode=sampled", "lr=0.01"],
    "tfnas": ["epochs=2", "warmup_epochs=1"],
    # At HardCoRe's lr of 0.05 the two phases on learnable data amplify float summation order to ~1e-3 between
    # any two ways of summing (one process, 2 or 4 ranks alike); at 0.01 the runs agree to ~1e-7.
    "hardcore": ["heaviest_epochs=1", "epochs=1", "bcfw.steps=6", "grad_mode=sampled", "grad_batch=16", "lr=0.01"],
}
WEIGHT_TOL = 1e-4  # float sums in another order, over a few dozen steps


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("fashion")
    make_fake_fashion(directory, n_train=256, n_test=32)
    return directory


@pytest.fixture(scope="module")
def lut(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lut") / "tiny.json"
    build_space_table(get_space(TINY_YAML, 28, 1, 10), path, warmup=1, rounds=3, progress=False)
    return path


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())


def train_args(data: Path, out: Path, epochs: int = 2) -> list[str]:
    # 230 training images at batch 32: the last batch of each epoch (6 images) splits 3/3, exercising the
    # share-weighted loss; val/test as in any run.
    return ["train", ARCH, "--dataset", "fashion-mnist", "--data-dir", str(data), "--epochs", str(epochs),
            "--batch-size", "32", "--no-augment", "--quiet", "--out", str(out)]


def test_train_two_ranks_match_one_process(tmp_path, data):
    hwnas(train_args(data, tmp_path / "one"))
    hwnas(train_args(data, tmp_path / "two"), nproc=2)
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    two = torch.load(tmp_path / "two" / "last.pt", weights_only=True)
    assert one["step"] == two["step"] > 0
    assert max_difference(one["model"], two["model"]) < WEIGHT_TOL
    m1, m2 = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "two"))
    assert m1["top1"] == pytest.approx(m2["top1"], abs=100 / 32 + 1e-9)  # at most one test image apart
    # one writer: rank 1 left no files of its own (no stray temp files, one metrics log)
    assert not list((tmp_path / "two").glob(".*.tmp"))
    lines = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len((tmp_path / "one" / "metrics.jsonl").read_text().splitlines())


def binding_budget(method: str, lut: Path) -> tuple[str, float]:
    """A budget halfway between the lightest network the method can reach and the heaviest one, so that it rules
    part of the tiny space out (a limit above the heaviest network would test nothing): the latency the table
    predicts for tfnas, which needs one, parameters for the others."""
    space = get_space(TINY_YAML, 28, 1, 10)
    key = "max_latency_ms" if method == "tfnas" else "max_params"
    (budget,) = make_budgets(Budgets(**{key: 1e12}), space, load_table(lut, space) if method == "tfnas" else None)
    lightest = budget.separable.minimum(largest_widths=method in FIXED_WIDTHS) * budget.scale
    heaviest = budget.value(space.heaviest()) * budget.scale
    assert lightest < heaviest, f"{key}: the tiny space cannot be split ({lightest} vs {heaviest})"
    return key, (lightest + heaviest) / 2


@pytest.mark.parametrize("method", ["spos", "random", "fbnet", "tfnas", "hardcore"])
def test_search_two_ranks_match_one_process(tmp_path, data, lut, method):
    key, limit = binding_budget(method, lut)

    def args(out: Path) -> list[str]:
        budget = [f"--{key.replace('_', '-')}", repr(limit), *(["--lut", str(lut)] if method == "tfnas" else [])]
        return ["search", "--method", method, "--space", TINY_YAML, "--data-dir", str(data), "--batch-size", "32",
                "--quiet", "--no-tensorboard", "--out", str(out), *budget,
                *[item for s in SETTINGS[method] for item in ("--set", s)]]

    hwnas(args(tmp_path / "one"))
    hwnas(args(tmp_path / "two"), nproc=2)
    one, two = (json.loads((tmp_path / d / "result.json").read_text()) for d in ("one", "two"))
    assert one["arch"] == two["arch"]
    for result in (one, two):  # the budget binds, and the chosen network meets it
        value = result["params"] if key == "max_params" else result["predicted_latency_ms"]
        assert value <= limit * (1 + 1e-9)
        assert result["budgets_met"][key]["met"] and result["budgets_met"][key]["limit"] == pytest.approx(limit)
    if method in ("spos", "random"):
        s1 = [c["val_top1"] for c in one["history"]["candidates"]]
        s2 = [c["val_top1"] for c in two["history"]["candidates"]]
        assert s1 == pytest.approx(s2, abs=1e-6)  # candidates scored in parallel, gathered in order
    if method in ("fbnet", "tfnas"):
        for e1, e2 in zip(one["history"], two["history"]):
            for label, p in e1["probs"].items():
                assert p == pytest.approx(e2["probs"][label], abs=1e-4)
    if method == "hardcore":
        assert one["history"]["alpha"].keys() == two["history"]["alpha"].keys()
        for label, p in one["history"]["alpha"].items():
            assert p == pytest.approx(two["history"]["alpha"][label], abs=1e-4)
    state = "supernet.pt" if method in ("spos", "random", "hardcore") else "search_state.pt"
    w1 = torch.load(tmp_path / "one" / state, weights_only=True)
    w2 = torch.load(tmp_path / "two" / state, weights_only=True)
    w1, w2 = (w.get("supernet", w) for w in (w1, w2))
    assert max_difference(w1, w2) < WEIGHT_TOL


def test_killed_rank_is_restarted_and_the_run_resumes(tmp_path, data):
    """A rank SIGKILLed mid-epoch: torchrun --max-restarts restarts both ranks, which resume from the last
    checkpoint and end with the weights of an uninterrupted run."""
    hwnas(train_args(data, tmp_path / "whole", epochs=3))
    # 7 steps per epoch: step 10 is in the second epoch, after the first epoch's checkpoint
    done = hwnas(train_args(data, tmp_path / "killed", epochs=3), nproc=2, restarts=1,
                 entry=[str(ROOT / "tests" / "distributed" / "_kill_once.py")],
                 env={"HWNAS_TEST_KILL_AT_STEP": "10"})
    assert "resuming from the last checkpoint" in done.stderr
    whole = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    killed = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert whole["step"] == killed["step"]
    assert max_difference(whole["model"], killed["model"]) < WEIGHT_TOL


def test_hwnas_run_refuses_torchrun_with_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "hwnas", "zoo", "list"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "WORLD_SIZE": "2", "RANK": "0"}, timeout=120)
    assert done.returncode != 0
    assert "does not run under torchrun" in done.stderr and "Traceback" not in done.stderr

"""Every method end to end on the tiny space and a slice of (fake) Fashion-MNIST, inside its budgets."""

from __future__ import annotations

import json

import pytest

from hwnas.cost import count_params
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.separable import SeparableCost
from hwnas.search import Budgets, search
from hwnas.search.budgets import InfeasibleBudgetError, make_budgets

from .conftest import TINY_YAML

SMALL = {
    "spos": {"epochs": 2, "recal_batches": 1, "score_batches": 1, "evolution.population": 6, "evolution.top_k": 3,
             "evolution.mutations": 3, "evolution.crossovers": 3, "evolution.generations": 2},
    "random": {"epochs": 2, "recal_batches": 1, "score_batches": 1, "random_candidates": 8,
               "evolution.population": 4, "evolution.top_k": 2},
    "fbnet": {"epochs": 2, "warmup_epochs": 1, "samples": 2},
    "tfnas": {"epochs": 2, "warmup_epochs": 1},
    "hardcore": {"heaviest_epochs": 1, "epochs": 2, "bcfw.steps": 10},
}


def target(search_space, lut, fraction=0.45):
    separable = SeparableCost(LatencyTable.load(lut), search_space)
    low, high = separable.minimum(largest_widths=True), separable.cost(search_space.heaviest())
    return low + fraction * (high - low)


def run(method, out, lut, fashion_dir, budgets, **options):
    return search(method, TINY_YAML, "fashion-mnist", out=out, lut=lut, budgets=budgets,
                  overrides={**SMALL[method], **options.pop("overrides", {})}, batch_size=options.pop("batch_size", 32),
                  data_dir=str(fashion_dir), progress=False, tensorboard=False, **options)


# A few weight steps per epoch: these tests check what the methods do with budgets, not what they learn.
QUICK = {"spos": {"steps_per_epoch": 2}, "random": {"steps_per_epoch": 2}, "hardcore": {"steps_per_epoch": 2},
         "fbnet": {"steps_per_epoch": 2, "arch_steps_per_epoch": 2}, "tfnas": {"steps_per_epoch": 4}}
KINDS = ("max_latency_ms", "max_params", "max_macs", "max_memory_mb")
FIXED_WIDTHS = ("fbnet", "hardcore")  # they search ops and depth with every width at its largest


def binding(space, lut, kinds, method, fraction=0.4):
    """Budgets of the given kinds, each ``fraction`` of the way from the lightest network the method can reach
    to the heaviest: the heaviest breaks every one of them, so each must steer the search."""
    every = make_budgets(Budgets(**{k: 1.0 for k in KINDS}), space, LatencyTable.load(lut))
    limits = {}
    for b in every:
        if b.key in kinds:
            low = b.separable.minimum(largest_widths=method in FIXED_WIDTHS)
            limits[b.key] = (low + fraction * (b.value(space.heaviest()) - low)) * b.scale
    return Budgets(**limits)


def check_result(result, out, budgets, space, lut):
    saved = json.loads((out / "result.json").read_text())
    assert saved["arch"] == result["arch"] and saved["choice"] == result["choice"]
    hard = make_budgets(budgets, space, LatencyTable.load(lut))
    assert hard and all(not b.satisfied(space.heaviest()) for b in hard), "every budget binds"
    for b in hard:  # recomputed here, not read from the result
        assert b.satisfied(result["choice"]), (b.key, b.value(result["choice"]) * b.scale, b.limit * b.scale)
        assert result["budgets_met"][b.key]["met"]
    spec = space.to_spec(result["choice"])
    assert LatencyTable.load(lut).predict(spec) == pytest.approx(result["predicted_latency_ms"])
    assert result["params"] == count_params(spec, num_classes=10, in_channels=1)
    assert result["history"], "a search records its history"
    assert (out / "metrics.jsonl").read_text().strip()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", list(SMALL))
def test_each_budget_alone_binds_and_holds(method, kind, tmp_path, search_space, fake_lut, fashion_dir):
    if method in FIXED_WIDTHS and kind == "max_memory_mb":
        pytest.skip("the tiny space's peak memory is its widest layer: fixed by the widths (see the next test)")
    kinds = {kind, "max_latency_ms"} if method == "tfnas" else {kind}  # tfnas needs its latency target
    budgets = binding(search_space, fake_lut, kinds, method)
    result = run(method, tmp_path, fake_lut, fashion_dir, budgets, overrides=QUICK[method])
    check_result(result, tmp_path, budgets, search_space, fake_lut)


@pytest.mark.parametrize("method", list(SMALL))
def test_all_budgets_bind_together(method, tmp_path, search_space, fake_lut, fashion_dir):
    kinds = set(KINDS) - ({"max_memory_mb"} if method in FIXED_WIDTHS else set())
    budgets = binding(search_space, fake_lut, kinds, method, fraction=0.55)
    result = run(method, tmp_path, fake_lut, fashion_dir, budgets, overrides=QUICK[method])
    check_result(result, tmp_path, budgets, search_space, fake_lut)


@pytest.mark.parametrize("method", FIXED_WIDTHS)
def test_a_budget_only_narrower_widths_meet_fails_before_training(method, tmp_path, search_space, fake_lut,
                                                                 fashion_dir):
    """fbnet and hardcore keep every width at its largest: a memory budget that only narrower widths meet is
    refused at once, naming what is achievable at those widths (once, hardcore found out after training)."""
    budgets = binding(search_space, fake_lut, {"max_memory_mb"}, "spos", fraction=0.5)
    with pytest.raises(InfeasibleBudgetError, match="with every width at its largest"):
        run(method, tmp_path, fake_lut, fashion_dir, budgets)
    assert not (tmp_path / "search_state.pt").exists()


def test_hardcore_iterates_are_feasible_and_fbnet_records_theta(tmp_path, search_space, search_lut, fashion_dir):
    limit = target(search_space, search_lut, 0.3)
    hard = run("hardcore", tmp_path / "h", search_lut, fashion_dir, Budgets(max_latency_ms=limit))
    assert hard["every_iterate_feasible"]
    assert all(row["expected_max_latency_ms"] <= limit * (1 + 1e-9) for row in hard["history"]["bcfw"])
    fb = run("fbnet", tmp_path / "f", search_lut, fashion_dir, Budgets(max_latency_ms=limit))
    assert [row["epoch"] for row in fb["history"]] == [0, 1]
    assert fb["history"][0]["theta_loss"] is None  # warm-up: theta frozen
    assert fb["history"][0]["probs"] != fb["history"][1]["probs"]
    assert len(fb["samples"]) == 2 and all(s["predicted_latency_ms"] <= limit for s in fb["samples"])


def test_cheap_second_target_from_the_supernet(tmp_path, search_space, search_lut, fashion_dir):
    first = run("spos", tmp_path / "a", search_lut, fashion_dir, Budgets(max_latency_ms=target(search_space,
                                                                                                 search_lut, 0.8)))
    tight = target(search_space, search_lut, 0.2)
    second = run("spos", tmp_path / "b", search_lut, fashion_dir, Budgets(max_latency_ms=tight),
                 from_supernet=tmp_path / "a")
    assert second["predicted_latency_ms"] <= tight < first["budgets"]["max_latency_ms"]
    assert second["from_supernet"] == str(tmp_path / "a")
    assert "supernet" not in second["history"]  # nothing was trained
    hard = run("hardcore", tmp_path / "c", search_lut, fashion_dir, Budgets(max_latency_ms=tight),
               from_supernet=tmp_path / "a")
    assert hard["predicted_latency_ms"] <= tight
    with pytest.raises(ValueError, match="from-supernet works for"):
        run("fbnet", tmp_path / "d", search_lut, fashion_dir, Budgets(max_latency_ms=tight),
            from_supernet=tmp_path / "a")


def test_impossible_budget_fails_before_training(tmp_path, search_space, search_lut, fashion_dir):
    low = SeparableCost(LatencyTable.load(search_lut), search_space).minimum()
    with pytest.raises(ValueError, match="smallest achievable"):
        run("spos", tmp_path, search_lut, fashion_dir, Budgets(max_latency_ms=0.5 * low))
    assert not (tmp_path / "search_state.pt").exists()


def test_tfnas_needs_a_latency_target(tmp_path, search_lut, fashion_dir):
    with pytest.raises(ValueError, match="latency target"):
        run("tfnas", tmp_path, search_lut, fashion_dir, Budgets(max_params=1e6))


def test_a_table_of_another_geometry_is_refused(tmp_path, search_lut, fashion_dir):
    with pytest.raises(ValueError, match="hwnas lut build --space"):
        search("spos", TINY_YAML, "fashion-mnist", out=tmp_path, lut=search_lut, width_mult=0.5,
               data_dir=str(fashion_dir), progress=False)


def test_bad_settings_name_the_valid_ones(tmp_path, search_lut, fashion_dir):
    with pytest.raises(ValueError, match="no setting 'epoch'"):
        run("spos", tmp_path, search_lut, fashion_dir, Budgets(), overrides={"epoch": 3})
    with pytest.raises(ValueError, match="fbnet mode"):
        run("fbnet", tmp_path, search_lut, fashion_dir, Budgets(), overrides={"mode": "other"})


def test_hardcore_finetune_distils_the_chosen_child(tmp_path, search_space, search_lut, fashion_dir):
    from hwnas.search.context import SearchContext, search_loaders
    from hwnas.search.methods.hardcore import finetune

    result = run("hardcore", tmp_path / "s", search_lut, fashion_dir,
                 Budgets(max_latency_ms=target(search_space, search_lut)),
                 overrides={"lr": 0.2, "heaviest_epochs": 3})
    # the fine-tuning's teacher is the heaviest path as pretrained (HardCoRe's IKD model), not the final one
    import torch

    from hwnas.search.parts.oneshot import trained_supernet
    from hwnas.train.checkpoint import load_checkpoint

    pretrained = load_checkpoint(tmp_path / "s" / "teacher.pt")
    final = trained_supernet(tmp_path / "s", search_space, torch.device("cpu")).extract(search_space.heaviest())
    assert pretrained.keys() == final.state_dict().keys()
    assert any(not torch.equal(v, final.state_dict()[k]) for k, v in pretrained.items())
    loaders = search_loaders("fashion-mnist", 32, data_dir=str(fashion_dir), progress=False)
    ctx = SearchContext(search_space, loaders, [], None, tmp_path / "s", progress=False)
    metrics = finetune(ctx, tmp_path / "s", result["choice"], epochs=1, out_dir=tmp_path / "ft")
    # The child starts from supernet weights that learned the (learnable) data: well above chance (10 %).
    assert metrics["epochs"] == 1 and metrics["top1"] >= 30.0, metrics
    assert (tmp_path / "ft" / "best.pt").is_file()
    tuned = run("hardcore", tmp_path / "s2", search_lut, fashion_dir, Budgets(max_latency_ms=result["budgets"][
        "max_latency_ms"]), from_supernet=tmp_path / "s", overrides={"finetune_epochs": 1})
    assert tuned["finetune"]["epochs"] == 1 and (tmp_path / "s2" / "finetune" / "metrics.json").is_file()


@pytest.mark.parametrize("method", ["fbnet", "tfnas", "hardcore"])
def test_distribution_methods_report_a_proxy_accuracy_and_the_unprojected_argmax(method, tmp_path, search_space,
                                                                                   fake_lut, fashion_dir):
    budgets = Budgets(max_latency_ms=target(search_space, fake_lut, 0.3))
    result = run(method, tmp_path, fake_lut, fashion_dir, budgets, overrides=QUICK[method])
    saved = json.loads((tmp_path / "result.json").read_text())
    assert 0.0 <= saved["supernet_val_top1"] <= 100.0  # arch-split top-1 of the chosen network's supernet path
    argmax = saved["argmax"]  # the distribution's own answer, before projection: arch text and predicted latency
    spec = search_space.to_spec(saved["argmax_choice" if method != "hardcore" else "rounded_choice"])
    from hwnas.arch import encode

    assert argmax["arch"] == encode(spec)
    assert argmax["predicted_latency_ms"] == pytest.approx(LatencyTable.load(fake_lut).predict(spec))
    assert 0.0 <= argmax["supernet_val_top1"] <= 100.0
    if result["arch"] == argmax["arch"]:
        assert saved["supernet_val_top1"] == argmax["supernet_val_top1"]
    if method == "fbnet":  # SMALL draws 2 samples: each says whether it is a raw draw or its projection
        assert len(saved["samples"]) == 2
        for sample in saved["samples"]:
            assert sample["draw"] in ("raw", "projected")
            assert ("raw_arch" in sample) == (sample["draw"] == "projected")

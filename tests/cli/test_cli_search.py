"""``hwnas search``: a run end to end with --json, --set, budgets; one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from tests.search.conftest import TINY_YAML, fashion_dir, search_lut, search_space  # noqa: F401 (fixtures)
from tests.search.test_methods import target

SETTINGS = ["--set", "recal_batches=1", "--set", "score_batches=1", "--set", "evolution.population=4",
            "--set", "evolution.top_k=2", "--set", "evolution.generations=2", "--set", "evolution.mutations=2",
            "--set", "evolution.crossovers=2"]


def test_search_writes_the_result(cli, tmp_path, search_space, search_lut, fashion_dir):  # noqa: F811
    limit = target(search_space, search_lut)
    max_params = 6000  # the tiny space spans 1,618-9,400 params: both budgets bind
    code, out, err = cli("search", "--method", "spos", "--space", TINY_YAML, "--lut", search_lut,
                         "--max-latency-ms", limit, "--max-params", max_params, "--max-memory-mb", 0.045,
                         "--epochs", 1, "--batch-size", 32, "--data-dir", fashion_dir, "--out", tmp_path, "--quiet",
                         "--no-tensorboard", "--json", *SETTINGS)
    assert code == 0, err
    result = json.loads(out)
    assert result["predicted_latency_ms"] <= limit and result["params"] <= max_params
    assert result["peak_memory_mb"] <= 0.045 and set(result["budgets_met"]) == {
        "max_latency_ms", "max_params", "max_memory_mb"}
    assert result["config"]["epochs"] == 1 and result["config"]["evolution"]["generations"] == 2
    assert json.loads((tmp_path / "result.json").read_text())["arch"] == result["arch"]
    code, out, err = cli("train", result["arch"], "--epochs", 1, "--data-dir", fashion_dir, "--out", tmp_path / "t",
                         "--quiet", "--batch-size", 32)
    assert code == 0, err  # the result's arch text is what `hwnas train` takes


def test_impossible_budget_is_one_line(cli, tmp_path, search_lut, fashion_dir):  # noqa: F811
    code, out, err = cli("search", "--method", "hardcore", "--space", TINY_YAML, "--lut", search_lut,
                         "--max-latency-ms", 1e-6, "--data-dir", fashion_dir, "--out", tmp_path, "--quiet")
    assert code == 2
    # The error is one line; the test's table is uncalibrated, which the search says in one line of its own.
    warning, error = err.splitlines()
    assert warning.startswith("warning:") and "not calibrated" in warning
    assert "smallest achievable" in error and "Traceback" not in err


def test_bad_inputs_are_one_line_errors(cli, tmp_path, search_lut, fashion_dir):  # noqa: F811
    for argv, message in [
        (["--set", "nope"], "KEY=VALUE"),
        (["--set", "generations=3"], "no setting 'generations'"),
        (["--max-latency-ms", "-1"], "must be a positive number"),
        (["--lut", tmp_path / "missing.json", "--max-latency-ms", "1"], "does not exist"),
        (["--from-supernet", tmp_path], "supernet.json"),
    ]:
        code, _, err = cli("search", "--method", "spos", "--space", TINY_YAML, "--data-dir", fashion_dir,
                           "--out", tmp_path / "o", "--quiet", *argv)
        assert code == 2 and message in err and err.count("\n") == 1, (argv, err)
    code, _, err = cli("search", "--method", "spos", "--space", TINY_YAML, "--max-latency-ms", 1,
                       "--data-dir", fashion_dir, "--out", tmp_path / "o", "--quiet")
    assert code == 2 and "--lut" in err


def test_check_measured_searches_again_when_the_chosen_network_is_over_budget(cli, tmp_path, search_space,  # noqa: F811
                                                                               search_lut, fashion_dir, monkeypatch):
    from hwnas.search.measured import DeployedTimer, Measurement

    limit = target(search_space, search_lut)
    # The first choice measures 5 % over in three agreeing passes (beyond their 2 % noise), the retry within.
    times = iter([Measurement.from_passes([1.05 * limit] * 3), Measurement.from_passes([0.8 * limit] * 3)])
    timers = []

    def fake_call(self, arch, onnx_path):
        timers.append(self)
        return next(times)

    monkeypatch.setattr(DeployedTimer, "__call__", fake_call)
    code, out, err = cli("search", "--method", "random", "--space", TINY_YAML, "--lut", search_lut,
                         "--max-latency-ms", limit, "--epochs", 1, "--batch-size", 32, "--data-dir", fashion_dir,
                         "--out", tmp_path, "--quiet", "--no-tensorboard", "--json", "--check-measured", 2,
                         "--measure-passes", 4, "--set", "random_candidates=4", *SETTINGS)
    assert code == 0, err
    result = json.loads(out)
    check = json.loads((tmp_path / "measured_check.json").read_text())
    assert result["measured_check"] == check and check["chosen"] == str(tmp_path / "retry1" / "result.json")
    assert [a["measured_ms"] for a in check["attempts"]] == pytest.approx([1.05 * limit, 0.8 * limit])
    assert [len(a["measurements"]) for a in check["attempts"]] == [1, 1] and check["attempts"][0]["drift"] == 1.0
    timer = timers[0]  # one timer for every attempt, with the table's settings and the space's drift references
    assert all(t is timer for t in timers) and timer.passes == 4 and len(timer.references) == 3
    assert check["timer"]["passes"] == 4 and check["timer"]["references"] == list(timer.references)
    assert check["attempts"][1]["budget_ms"] < limit and result["predicted_latency_ms"] <= check["attempts"][1][
        "budget_ms"] + 1e-9
    assert json.loads((tmp_path / "retry1" / "result.json").read_text())["arch"] == result["arch"]


def test_the_real_measured_check_times_the_network_alone_with_the_table_settings(tmp_path, search_space,  # noqa: F811
                                                                               search_lut):
    from hwnas.arch import encode
    from hwnas.search.closed_loop import measure_with_table

    arch = encode(search_space.to_spec(search_space.heaviest()))
    ms = measure_with_table(arch, search_lut, tmp_path / "check.onnx", rounds=3)
    assert 0 < ms < 100 and (tmp_path / "check.onnx").is_file()


def test_check_measured_needs_a_latency_budget_and_a_table(cli, tmp_path, fashion_dir):  # noqa: F811
    code, _, err = cli("search", "--method", "random", "--space", TINY_YAML, "--max-params", 50000,
                       "--check-measured", 1, "--data-dir", fashion_dir, "--out", tmp_path, "--quiet")
    assert code == 2 and "--check-measured needs --max-latency-ms and --lut" in err


def test_fill_budget_moves_the_kept_network_into_its_band_measured(cli, tmp_path, search_space, search_lut,  # noqa: F811
                                                                   fashion_dir):
    """Real timings on ONNX Runtime: the search's network is filled with the loop's timer; the filled result is a
    result file of its own, its every measurement recorded, and either in the band or saying why not."""
    limit = target(search_space, search_lut, 0.6)
    code, out, err = cli("search", "--method", "random", "--space", TINY_YAML, "--lut", search_lut,
                         "--max-latency-ms", limit, "--epochs", 1, "--batch-size", 32, "--data-dir", fashion_dir,
                         "--out", tmp_path, "--quiet", "--no-tensorboard", "--json", "--check-measured", 1,
                         "--fill-budget", "--set", "random_candidates=4", *SETTINGS)
    assert code == 0, err
    result = json.loads(out)
    filled = json.loads((tmp_path / "filled" / "result.json").read_text())
    assert result == filled and filled["searched_arch"] == json.loads((tmp_path / "result.json").read_text())["arch"]
    record = filled["filled"]
    assert record["steps"] and all(s["measurement"]["passes"] >= 3 for s in record["steps"])
    assert record["in_band"] == (0.9 * limit <= record["measured_ms"] <= limit)
    assert record["in_band"] or record["reason"]
    code, _, err = cli("search", "--method", "random", "--space", TINY_YAML, "--lut", search_lut,
                       "--max-latency-ms", limit, "--fill-budget", "--data-dir", fashion_dir, "--out", tmp_path / "x",
                       "--quiet")
    assert code == 2 and "--fill-budget" in err and "--check-measured" in err

"""``hwnas search``: a run end to end with --json, --set, budgets; one-line errors for bad input."""

from __future__ import annotations

import json

from tests.search.conftest import TINY_YAML, fashion_dir, search_lut, search_space  # noqa: F401 (fixtures)
from tests.search.test_methods import target

SETTINGS = ["--set", "recal_batches=1", "--set", "score_batches=1", "--set", "evolution.population=4",
            "--set", "evolution.top_k=2", "--set", "evolution.generations=2", "--set", "evolution.mutations=2",
            "--set", "evolution.crossovers=2"]


def test_search_writes_the_result(cli, tmp_path, search_space, search_lut, fashion_dir):  # noqa: F811
    limit = target(search_space, search_lut)
    code, out, err = cli("search", "--method", "spos", "--space", TINY_YAML, "--lut", search_lut,
                         "--max-latency-ms", limit, "--max-params", 50000, "--epochs", 1, "--batch-size", 32,
                         "--data-dir", fashion_dir, "--out", tmp_path, "--quiet", "--no-tensorboard", "--json",
                         *SETTINGS)
    assert code == 0, err
    result = json.loads(out)
    assert result["predicted_latency_ms"] <= limit and result["params"] <= 50000
    assert result["config"]["epochs"] == 1 and result["config"]["evolution"]["generations"] == 2
    assert json.loads((tmp_path / "result.json").read_text())["arch"] == result["arch"]
    code, out, err = cli("train", result["arch"], "--epochs", 1, "--data-dir", fashion_dir, "--out", tmp_path / "t",
                         "--quiet", "--batch-size", 32)
    assert code == 0, err  # the result's arch text is what `hwnas train` takes


def test_impossible_budget_is_one_line(cli, tmp_path, search_lut, fashion_dir):  # noqa: F811
    code, out, err = cli("search", "--method", "hardcore", "--space", TINY_YAML, "--lut", search_lut,
                         "--max-latency-ms", 1e-6, "--data-dir", fashion_dir, "--out", tmp_path, "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and "smallest achievable" in err and "Traceback" not in err


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

"""A new search method is one module plus registration: the CLI, ``hwnas run`` and the report take it unchanged.

The toy method (tests/search/toy_method.py) is registered for this module's tests only: the fixture imports it
(importing registers it) and unregisters it afterwards, so tests that list every method never see it.
"""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from hwnas.arch import decode
from hwnas.cli import main
from hwnas.search import method_config
from hwnas.search.registry import method_names, unregister
from hwnas.search.result import SearchResult
from tests.run.test_run_e2e import small
from tests.search.conftest import TINY_YAML
from tests.search.test_methods import target

MODULE = "tests.search.toy_method"


@pytest.fixture(scope="module")
def toy():
    module = importlib.reload(sys.modules[MODULE]) if MODULE in sys.modules else importlib.import_module(MODULE)
    yield module
    unregister("toy")


def test_the_toy_is_registered_and_configured_like_any_method(toy):
    assert "toy" in method_names() and method_names()[:5] == ("fbnet", "tfnas", "spos", "hardcore", "random")
    assert method_config("toy").draws == 3
    assert method_config("toy", {"draws": 5}).draws == 5
    with pytest.raises(ValueError, match="draws"):
        method_config("toy", {"draws": 0})


def test_hwnas_search_runs_the_toy_within_its_budgets(toy, tmp_path, capsys, search_space, search_lut,
                                                      fashion_dir):
    limit, max_params = target(search_space, search_lut), 6000
    code = main(["search", "--method", "toy", "--space", TINY_YAML, "--lut", str(search_lut),
                 "--max-latency-ms", str(limit), "--max-params", str(max_params), "--set", "draws=2",
                 "--data-dir", str(fashion_dir), "--batch-size", "32", "--out", str(tmp_path), "--quiet",
                 "--no-tensorboard", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    saved = SearchResult.load(tmp_path / "result.json")
    assert json.loads(out) == saved.to_json() == json.loads((tmp_path / "result.json").read_text())
    assert saved.method == "toy" and saved.config == {"draws": 2} and saved["draws"] == 2
    assert saved.predicted_latency_ms <= limit and saved.params <= max_params
    assert set(saved.budgets_met) == {"max_latency_ms", "max_params"}
    assert all(b["met"] for b in saved.budgets_met.values())
    assert search_space.contains(saved.choice) and decode(saved.arch) == search_space.to_spec(saved.choice)
    assert saved.dataset == "fashion-mnist" and saved.batch_size == 32


def test_hwnas_run_with_the_toy_writes_the_report(toy, tmp_path, fashion_dir):
    from hwnas.run import run

    cfg = small(fashion_dir, **{"search.method": "toy", "search.settings": {"draws": 2}, "references.names": []})
    summary = run(cfg, tmp_path, progress=False, announce=lambda line: None)
    assert (tmp_path / "report.html").is_file() and (tmp_path / "search" / "result.json").is_file()
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved == summary and saved["method"] == "toy"
    assert saved["theta"] is None  # the report does not know the toy's history, and says nothing about it
    assert SearchResult.load(tmp_path / "search").method == "toy"

"""The measured closed loop of the search stage: a chosen network over the latency budget is searched again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hwnas.run.pipeline as pipeline
from hwnas.search import Budgets
from hwnas.search.closed_loop import SAFETY
from tests.run.test_run_e2e import small

GEOMETRY = {"input_size": 28, "in_channels": 1, "num_classes": 10}
LOOP = {"search.check_measured": True}


def lut_of(finished) -> str:
    out, summary, _ = finished
    return json.loads((out / "stages" / "lut.json").read_text())["outputs"]["path"]


def roomy_budget(finished) -> float:
    """Three times the table's lightest network: every tightened budget of these tests stays feasible (or, at
    a hundredth, infeasible) whatever the run's own budget and calibration came out as on this machine."""
    from hwnas.cost.latency.calibration_fit import lightest_prediction
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.space import get_space
    from tests.run.test_run_e2e import TINY_YAML

    space = get_space(TINY_YAML, GEOMETRY["input_size"], GEOMETRY["in_channels"], GEOMETRY["num_classes"])
    return 3.0 * lightest_prediction(LatencyTable.load(lut_of(finished)), space)


def test_the_real_measurement_times_the_chosen_network(tmp_path, finished):
    _, summary, _ = finished
    ms = pipeline.measure_untrained(small(Path(".")), summary["arch"], GEOMETRY, tmp_path / "check.onnx")
    assert 0 < ms < 100 and (tmp_path / "check.onnx").is_file()


def test_an_over_budget_network_is_searched_again_under_a_tightened_budget(tmp_path, finished, fashion_dir,
                                                                           monkeypatch):
    budget = roomy_budget(finished)
    measured = iter([1.5 * budget, 0.9 * budget])  # the table under-predicted the first choice by 50 %
    monkeypatch.setattr(pipeline, "measure_untrained", lambda *a, **k: next(measured))
    out = pipeline.stage_search(small(fashion_dir, **LOOP), tmp_path, lut_of(finished), Budgets(max_latency_ms=budget),
                                GEOMETRY, progress=False)
    first, second = out["attempts"]
    assert first["measured_ms"] == 1.5 * budget and second["measured_ms"] == 0.9 * budget
    assert second["budget_ms"] == pytest.approx(budget / 1.5 * SAFETY)
    assert out["chosen_attempt"] == 1 and out["result"].endswith("search_retry1/result.json")
    retry = json.loads(Path(out["result"]).read_text())
    assert retry["predicted_latency_ms"] <= second["budget_ms"] + 1e-9
    assert retry["from_supernet"] == str(tmp_path / "search")  # random search: the supernet is trained once


def test_when_no_retry_meets_the_budget_the_fastest_measured_network_is_kept(tmp_path, finished, fashion_dir,
                                                                             monkeypatch):
    budget = roomy_budget(finished)
    measured = iter([1.2 * budget, 1.1 * budget, 1.3 * budget])
    monkeypatch.setattr(pipeline, "measure_untrained", lambda *a, **k: next(measured))
    out = pipeline.stage_search(small(fashion_dir, **LOOP), tmp_path, lut_of(finished), Budgets(max_latency_ms=budget),
                                GEOMETRY, progress=False)
    assert [a["attempt"] for a in out["attempts"]] == [0, 1, 2]  # search.retries = 2
    assert out["chosen_attempt"] == 1


def test_a_tightened_budget_below_the_lightest_network_stops_the_loop(tmp_path, finished, fashion_dir,
                                                                      monkeypatch):
    budget = roomy_budget(finished)
    monkeypatch.setattr(pipeline, "measure_untrained", lambda *a, **k: 100.0 * budget)
    out = pipeline.stage_search(small(fashion_dir, **LOOP), tmp_path, lut_of(finished), Budgets(max_latency_ms=budget),
                                GEOMETRY, progress=False)
    assert "error" in out["attempts"][-1] and out["chosen_attempt"] == 0


def test_the_loop_can_be_switched_off(tmp_path, finished, fashion_dir, monkeypatch):
    monkeypatch.setattr(pipeline, "measure_untrained", lambda *a, **k: pytest.fail("measured with the check off"))
    cfg = small(fashion_dir, **{"search.check_measured": False})
    out = pipeline.stage_search(cfg, tmp_path, lut_of(finished),
                                Budgets(max_latency_ms=finished[1]["budgets"]["max_latency_ms"]), GEOMETRY,
                                progress=False)
    assert len(out["attempts"]) == 1 and "measured_ms" not in out["attempts"][0]


def test_the_report_tells_the_loop_in_one_sentence():
    from hwnas.report.render import _attempts_text

    assert _attempts_text({"search_attempts": [{"budget_ms": 0.5, "measured_ms": 0.4}]}) == ""
    text = _attempts_text({"search_attempts": [{"budget_ms": 0.5, "measured_ms": 0.6},
                                               {"budget_ms": 0.41, "measured_ms": 0.49}]})
    assert "0.600 ms" in text and "0.410 ms" in text and text.startswith("Measured before training")

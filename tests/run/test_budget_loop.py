"""The measured closed loop of the search stage: a chosen network over the latency budget is searched again.

The fake measurements are three agreeing passes (``confirmed``): an excess of more than their 2 % noise decides at
once (tests/search/test_measured_loop.py tests the re-take of an excess that is not yet evidence)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hwnas.run.pipeline as pipeline
from hwnas.search import Budgets
from hwnas.search.closed_loop import MAX_STEP, SAFETY
from hwnas.search.measured import Measurement
from tests.run.test_run_e2e import small

GEOMETRY = {"input_size": 28, "in_channels": 1, "num_classes": 10}
LOOP = {"search.check_measured": True}


def confirmed(ms: float) -> Measurement:
    return Measurement.from_passes([ms] * 3)


def lut_of(finished) -> str:
    out, summary, _ = finished
    return json.loads((out / "stages" / "lut.json").read_text())["outputs"]["path"]


def roomy_budget(finished, times: float = 3.0) -> float:
    """``times`` the table's lightest network (3: every tightened budget of these tests stays feasible, whatever
    the run's own budget and calibration came out as on this machine)."""
    from hwnas.cost.latency.calibration_fit import lightest_prediction
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.space import get_space
    from tests.run.test_run_e2e import TINY_YAML

    space = get_space(TINY_YAML, GEOMETRY["input_size"], GEOMETRY["in_channels"], GEOMETRY["num_classes"])
    return times * lightest_prediction(LatencyTable.load(lut_of(finished)), space)


def test_the_real_measurement_times_the_chosen_network(tmp_path, finished):
    _, summary, _ = finished
    m = pipeline.measure_untrained(small(Path(".")), summary["arch"], GEOMETRY, tmp_path / "check.onnx")
    assert 0 < m.ms < 100 and m.passes == 3 and 0.25 < m.drift < 4 and (tmp_path / "check.onnx").is_file()
    assert (tmp_path / "drift" / "drift_ref2.onnx").is_file()  # the space's three drift references, exported


def test_an_over_budget_network_is_searched_again_under_a_tightened_budget(tmp_path, finished, fashion_dir,
                                                                           monkeypatch):
    budget = roomy_budget(finished)
    measured = iter([confirmed(1.1 * budget), confirmed(0.9 * budget)])  # the table under-predicted it by 10 %
    timers = []

    def fake(cfg, arch, geometry, onnx_path, timer=None):
        timers.append(timer)
        return next(measured)

    monkeypatch.setattr(pipeline, "measure_untrained", fake)
    out = pipeline.stage_search(small(fashion_dir, **LOOP), tmp_path, lut_of(finished), Budgets(max_latency_ms=budget),
                                GEOMETRY, progress=False)
    first, second = out["attempts"]
    assert first["measured_ms"] == pytest.approx(1.1 * budget) and second["measured_ms"] == pytest.approx(0.9 * budget)
    assert second["budget_ms"] == pytest.approx(budget / 1.1 * SAFETY)
    assert [len(a["measurements"]) for a in out["attempts"]] == [1, 1] and first["drift"] == 1.0
    assert timers[0] is timers[1] and timers[0].passes == 3  # one timer for the stage: one set of baselines
    assert out["chosen_attempt"] == 1 and out["result"].endswith("search_retry1/result.json")
    retry = json.loads(Path(out["result"]).read_text())
    assert retry["predicted_latency_ms"] <= second["budget_ms"] + 1e-9
    assert retry["from_supernet"] == str(tmp_path / "search")  # random search: the supernet is trained once


def test_when_no_retry_meets_the_budget_the_fastest_measured_network_is_kept(tmp_path, finished, fashion_dir,
                                                                             monkeypatch):
    budget = roomy_budget(finished)
    measured = iter(map(confirmed, [1.2 * budget, 1.1 * budget, 1.3 * budget]))
    monkeypatch.setattr(pipeline, "measure_untrained", lambda *a, **k: next(measured))
    out = pipeline.stage_search(small(fashion_dir, **LOOP), tmp_path, lut_of(finished), Budgets(max_latency_ms=budget),
                                GEOMETRY, progress=False)
    assert [a["attempt"] for a in out["attempts"]] == [0, 1, 2]  # search.retries = 2
    assert out["chosen_attempt"] == 1


def test_a_tightened_budget_below_the_lightest_network_stops_the_loop(tmp_path, finished, fashion_dir,
                                                                      monkeypatch):
    budget = roomy_budget(finished, 1.1)  # one bounded step (x 0.85) takes it below the lightest network
    monkeypatch.setattr(pipeline, "measure_untrained", lambda *a, **k: confirmed(100.0 * budget))
    out = pipeline.stage_search(small(fashion_dir, **LOOP), tmp_path, lut_of(finished), Budgets(max_latency_ms=budget),
                                GEOMETRY, progress=False)
    assert "error" in out["attempts"][-1] and out["chosen_attempt"] == 0
    assert out["attempts"][-1]["budget_ms"] == pytest.approx(budget * (1 - MAX_STEP))


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


def test_measure_passes_is_a_setting_of_its_own():
    from hwnas.run.preset import load_config

    assert load_config("quick").measure.passes == 3
    assert load_config("quick", {"measure.passes": 5}).measure.passes == 5
    with pytest.raises(ValueError, match="measure.passes must be >= 1"):
        load_config("quick", {"measure.passes": 0})

"""``hwnas run`` end to end on the tiny space and fake Fashion-MNIST: every stage, the report, caching, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwnas.arch import encode
from hwnas.report.render import FIGURES
from hwnas.run import STAGES, load_config, run
from hwnas.space import get_space
from tests.search.conftest import TINY_YAML

ROOT = Path(__file__).resolve().parents[2]


def small(fashion_dir, **extra):
    space = get_space(TINY_YAML, 28, 1, 10)
    reference = encode(space.to_spec(space.heaviest()))
    overrides = {
        "data_dir": str(fashion_dir), "search.space": TINY_YAML, "search.width_mult": 1.0, "search.method": "random",
        "search.batch_size": 32, "search.limit": None,
        "search.settings": {"epochs": 1, "recal_batches": 1, "score_batches": 1, "random_candidates": 6,
                            "evolution.population": 4, "evolution.top_k": 2},
        "budgets.latency_fraction": 0.5, "lut.rounds": 3, "lut.passes": 1, "lut.calibrate": 8, "lut.validate": 4,
        "train.epochs": 1, "train.batch_size": 32, "measure.rounds": 5, "measure.warmup": 1,
        # The measured closed loop makes the chosen network depend on timings; these tests compare networks
        # across runs (tests/run/test_budget_loop.py tests the loop).
        "search.check_measured": False,
        # Two finalists, one round, not filled (filling measures, so it too would make the network timing-
        # dependent; tests/run/test_finalist_stage.py tests it): the stage runs, and runs repeatably.
        "finalists.count": 2, "finalists.references": [], "finalists.epochs": [1], "finalists.fill": False,
        "references.scaled": [],
        "references.names": [reference], **extra}
    return load_config("quick", overrides)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, fashion_dir):
    out = tmp_path_factory.mktemp("run")
    lines = []
    summary = run(small(fashion_dir), out, progress=False, announce=lines.append)
    return out, summary, lines


def test_every_stage_runs_and_the_report_has_every_figure(finished):
    out, summary, lines = finished
    assert [line.split(":")[0] for line in lines] == [f"[{i + 1}/{len(STAGES)}] {n}" for i, n in enumerate(STAGES)]
    for name in ("report.html", "report.md", "summary.json", "config.yaml", "export/model.onnx", "export/model.ts",
                 "lut/table.json", "lut/validation.json", "search/result.json", "train/best.pt"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "summary.json").read_text())
    assert saved == summary and saved["method"] == "random"
    assert saved["latency"]["measured_ms"] > 0 and saved["latency"]["predicted_ms"] > 0
    (check,) = saved["budget_checks"]
    assert check["budget"] == "max_latency_ms" and check["how"] == "measured"
    assert check["holds"] == (saved["latency"]["measured_ms"] <= saved["budgets"]["max_latency_ms"])
    assert saved["all_budgets_hold"] == check["holds"]
    layers_ms = sum(r["predicted_ms"] for r in saved["layers"])  # shares are of the whole prediction
    assert len(saved["layers"]) >= 4 and sum(r["share_pct"] for r in saved["layers"]) == pytest.approx(
        100 * layers_ms / saved["latency"]["predicted_ms"], rel=1e-6)
    assert saved["candidates"] and saved["training"] and saved["validation_points"]
    assert saved["references"][0]["test_top1"] is not None and saved["references"][0]["measured_ms"] > 0
    page = (out / "report.html").read_text()
    for fig in FIGURES:
        assert f"id='{fig}'" in page and (out / "figures" / f"{fig}.svg").is_file()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "figures/fig-arch.svg" in (out / "report.md").read_text()
    assert load_config(out / "config.yaml") == small(Path(saved["config"]["data_dir"]))


def _records(out: Path) -> dict[str, str]:
    """Each stage's record as written: a stage that runs again writes a new one (its key, time and outputs)."""
    return {p.stem: p.read_text() for p in sorted((out / "stages").glob("*.json"))}


def test_rerun_reuses_every_stage_and_a_changed_setting_redoes_only_what_follows(finished, fashion_dir):
    """Reuse is read from the stage records, not from the rerun's wall time (a loaded machine makes that flaky)."""
    out, summary, _ = finished
    lines, before = [], _records(out)
    assert sorted(before) == sorted(STAGES)
    assert run(small(fashion_dir), out, progress=False, announce=lines.append) == summary
    assert all("done before" in line for line in lines) and len(lines) == len(STAGES)
    assert _records(out) == before  # no stage ran again: not one record rewritten
    lines.clear()
    changed = run(small(fashion_dir, **{"measure.rounds": 6}), out, progress=False, announce=lines.append)
    redone = [line.split(":")[0].split("] ")[1] for line in lines if "done before" not in line]
    assert redone == ["measure", "report"] and changed["arch"] == summary["arch"]
    after = _records(out)
    assert {name for name in STAGES if after[name] != before[name]} == {"measure", "report"}
    assert json.loads(after["measure"])["outputs"]["rounds"] == 6


def test_a_killed_run_continues_where_it_stopped(tmp_path, fashion_dir, finished):
    """SIGKILL once the search has finished (mid-training), rerun: the rest completes, the search is reused, and
    the chosen network and its training equal the uninterrupted run's."""
    done_out, reference, _ = finished
    cfg = tmp_path / "cfg.yaml"
    from hwnas.run.preset import dump_config

    # The same latency table (timings differ run to run, and with them a relative budget): the same search.
    cfg.write_text(dump_config(small(fashion_dir, **{"lut.path": str(done_out / "lut" / "table.json")})))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "hwnas", "run", "--preset", str(cfg), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.time() + 240
    while not (out / "stages" / "search.json").is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed:\n{(tmp_path / 'first.log').read_text()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    assert not (out / "summary.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"[2/{len(STAGES)}] search: done before" in done.stdout, (done.stdout, (tmp_path / "first.log").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert summary["arch"] == reference["arch"], done.stdout
    assert summary["test_top1"] == reference["test_top1"], done.stdout

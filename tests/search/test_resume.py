"""A killed search resumes from its last checkpoint to the result of an uninterrupted run.

In-process kills (an exception out of a checkpoint save or out of a metrics line) cover every method quickly; two
tests SIGKILL a real process: spos through a small worker, fbnet through ``python -m hwnas search``. A kill before
the first checkpoint would make the "resume" a fresh run, which ends where an uninterrupted run does too: those
tests wait for ``search_state.pt`` before killing, check that it survived the kill, and check that the resumed
process started from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hwnas.search import Budgets
from hwnas.search.parts.engine import STATE_NAME, SearchState
from hwnas.train import MetricsLogger, load_checkpoint

from .conftest import TINY_YAML
from .test_methods import run, target

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
DROP = ("search_time_s", "config")  # wall time; config is compared through the state's fingerprint


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def straight(tmp_path_factory, search_space, search_lut, fashion_dir):
    """Uninterrupted runs, one per method, made when a test first needs one: (out dir, result)."""
    runs = {}
    budgets = Budgets(max_latency_ms=target(search_space, search_lut))

    def get(method: str) -> tuple[Path, dict]:
        if method not in runs:
            out = tmp_path_factory.mktemp(f"straight_{method}")
            runs[method] = out, run(method, out, search_lut, fashion_dir, budgets)
        return runs[method]

    return get


def same_result(a: dict, b: dict) -> None:
    assert a["choice"] == b["choice"]
    assert {k: v for k, v in a.items() if k not in DROP} == {k: v for k, v in b.items() if k not in DROP}


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method,after", [("spos", 1), ("spos", 3), ("fbnet", 1), ("tfnas", 1),
                                          ("hardcore", 1), ("hardcore", 3), ("random", 3)])
def test_interrupted_search_resumes_to_the_same_result(method, after, tmp_path, monkeypatch, search_space,
                                                       search_lut, fashion_dir, straight):
    budgets = Budgets(max_latency_ms=target(search_space, search_lut))
    original = SearchState.save
    calls = {"n": 0}

    def dying_save(self, state):
        original(self, state)
        calls["n"] += 1
        if calls["n"] == after:
            raise Killed

    monkeypatch.setattr(SearchState, "save", dying_save)
    with pytest.raises(Killed):
        run(method, tmp_path, search_lut, fashion_dir, budgets)
    monkeypatch.setattr(SearchState, "save", original)
    same_result(run(method, tmp_path, search_lut, fashion_dir, budgets, resume=True), straight(method)[1])
    assert metrics(tmp_path) == metrics(straight(method)[0])


# The kill lands after the line-th metrics line and before the checkpoint that would cover it: after an fbnet
# epoch's line, after spos's first evolution line, inside hardcore's BCFW (which is not checkpointed at all).
@pytest.mark.parametrize("method,line", [("fbnet", 2), ("spos", 3), ("hardcore", 4)])
def test_a_step_logged_but_not_checkpointed_is_logged_once_after_resume(method, line, tmp_path, monkeypatch,
                                                                      search_space, search_lut, fashion_dir,
                                                                      straight):
    budgets = Budgets(max_latency_ms=target(search_space, search_lut))
    original = MetricsLogger.log

    def dying_log(self, step, record):
        original(self, step, record)
        if self.lines_written == line:
            raise Killed

    monkeypatch.setattr(MetricsLogger, "log", dying_log)
    with pytest.raises(Killed):
        run(method, tmp_path, search_lut, fashion_dir, budgets)
    monkeypatch.setattr(MetricsLogger, "log", original)
    assert len(metrics(tmp_path)) == line
    assert load_checkpoint(tmp_path / STATE_NAME)["metrics_lines"] < line  # the line is newer than the state
    same_result(run(method, tmp_path, search_lut, fashion_dir, budgets, resume=True), straight(method)[1])
    assert metrics(tmp_path) == metrics(straight(method)[0])  # the rerun step's line is there once


def test_resume_refuses_another_search(tmp_path, search_space, search_lut, fashion_dir):
    run("spos", tmp_path, search_lut, fashion_dir, Budgets(max_latency_ms=target(search_space, search_lut)))
    with pytest.raises(ValueError, match="cannot resume"):
        run("spos", tmp_path, search_lut, fashion_dir, Budgets(max_latency_ms=target(search_space, search_lut, 0.6)),
            resume=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def kill_after_first_checkpoint(command: list[str], out: Path) -> Path:
    """Start ``command``, SIGKILL it as soon as its first ``search_state.pt`` is on disk; the state's path.

    Polls for the file (no fixed sleep: the machine may be slow and loaded) and fails unless the process was
    killed, still running, with the state on disk and no result: anything else would not test a resume."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.stderr", "w") as stderr:
        proc = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=stderr)
        state = out / STATE_NAME
        deadline = time.monotonic() + 120
        while not state.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    log = (out.parent / f"{out.name}.stderr").read_text()[-3000:]
    assert state.is_file(), f"no {STATE_NAME} within 120 s (exit {proc.returncode}): {log}"
    assert proc.returncode == -signal.SIGKILL, f"the search was not killed but exited {proc.returncode}: {log}"
    assert not (out / "result.json").exists()
    load_checkpoint(state)  # whole: an atomic write leaves the previous state or the new one
    return state


def test_sigkilled_search_process_resumes(tmp_path, search_space, search_lut, fashion_dir):
    limit = str(target(search_space, search_lut))

    def worker(out: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "tests.search._search_worker", str(out), str(search_lut), str(fashion_dir),
                limit, "spos", *extra]

    subprocess.run(worker(tmp_path / "s"), cwd=ROOT, env=ENV, check=True, timeout=300)
    state = kill_after_first_checkpoint(worker(tmp_path / "k"), tmp_path / "k")
    digest = sha256(state)
    done = subprocess.run(worker(tmp_path / "k", "--resume"), cwd=ROOT, env=ENV, check=True, timeout=300,
                          capture_output=True, text=True)
    assert [line.split()[1] for line in done.stdout.splitlines() if line.startswith("resumed-from ")] == [digest]
    a = load_checkpoint(tmp_path / "s" / "supernet.pt")
    b = load_checkpoint(tmp_path / "k" / "supernet.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "k" / "result.json").read_text())["arch"] == \
        json.loads((tmp_path / "s" / "result.json").read_text())["arch"]


def test_sigkilled_fbnet_cli_search_resumes_to_the_uninterrupted_result(tmp_path, search_space, search_lut,
                                                                        fashion_dir):
    """``hwnas search --method fbnet`` SIGKILLed after its first epoch's checkpoint, then rerun with ``--resume``,
    ends with the arch, history (architecture probabilities per epoch) and samples of an uninterrupted run."""
    limit = str(target(search_space, search_lut))

    def cli(out: Path, *extra: str) -> list[str]:
        # Four epochs, so that three are left when the first checkpoint appears: the kill lands mid-search.
        return [sys.executable, "-m", "hwnas", "search", "--method", "fbnet", "--space", TINY_YAML,
                "--lut", str(search_lut), "--max-latency-ms", limit, "--data-dir", str(fashion_dir),
                "--out", str(out), "--batch-size", "32", "--quiet", "--no-tensorboard",
                "--set", "epochs=4", "--set", "warmup_epochs=1", "--set", "samples=2", *extra]

    subprocess.run(cli(tmp_path / "s"), cwd=ROOT, env=ENV, check=True, timeout=300, capture_output=True)
    killed = tmp_path / "k"
    saved = load_checkpoint(kill_after_first_checkpoint(cli(killed), killed))
    assert 1 <= saved["epoch"] < 4 and saved["metrics_lines"] == saved["epoch"]  # one line per finished epoch
    # Mark the killed run's first metrics line: a resume keeps the lines its state covers as they are, while a
    # run that started again from scratch would rewrite (or, rerunning the epoch, repeat) it.
    lines = (killed / "metrics.jsonl").read_text().splitlines(keepends=True)
    lines[0] = json.dumps({**json.loads(lines[0]), "from_the_killed_run": True}) + "\n"
    (killed / "metrics.jsonl").write_text("".join(lines))
    subprocess.run(cli(killed, "--resume"), cwd=ROOT, env=ENV, check=True, timeout=300, capture_output=True)
    resumed = metrics(killed)
    assert resumed[0].pop("from_the_killed_run") is True
    assert resumed == metrics(tmp_path / "s") and [r["epoch"] for r in resumed] == [0, 1, 2, 3]
    a, b = (json.loads((d / "result.json").read_text()) for d in (tmp_path / "s", killed))
    assert a["arch"] == b["arch"] and a["history"] == b["history"] and a["samples"] == b["samples"]
    assert {k: v for k, v in a.items() if k != "search_time_s"} == {k: v for k, v in b.items() if k != "search_time_s"}

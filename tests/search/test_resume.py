"""A killed search resumes from its last checkpoint to the result of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hwnas.search import Budgets
from hwnas.search.engine import SearchState

from .test_methods import run, target

ROOT = Path(__file__).resolve().parents[2]


class Killed(Exception):
    pass


@pytest.mark.parametrize("method,after", [("spos", 1), ("spos", 3), ("fbnet", 1), ("tfnas", 1),
                                          ("hardcore", 1), ("hardcore", 3), ("random", 3)])
def test_interrupted_search_resumes_to_the_same_result(method, after, tmp_path, monkeypatch, search_space,
                                                       search_lut, fashion_dir):
    budgets = Budgets(max_latency_ms=target(search_space, search_lut))
    straight = run(method, tmp_path / "straight", search_lut, fashion_dir, budgets)
    original = SearchState.save
    calls = {"n": 0}

    def dying_save(self, state):
        original(self, state)
        calls["n"] += 1
        if calls["n"] == after:
            raise Killed

    monkeypatch.setattr(SearchState, "save", dying_save)
    with pytest.raises(Killed):
        run(method, tmp_path / "resumed", search_lut, fashion_dir, budgets)
    monkeypatch.setattr(SearchState, "save", original)
    resumed = run(method, tmp_path / "resumed", search_lut, fashion_dir, budgets, resume=True)
    assert resumed["choice"] == straight["choice"]
    drop = ("search_time_s", "config")
    assert {k: v for k, v in resumed.items() if k not in drop} == {k: v for k, v in straight.items() if k not in drop}


def test_resume_refuses_another_search(tmp_path, search_space, search_lut, fashion_dir):
    run("spos", tmp_path, search_lut, fashion_dir, Budgets(max_latency_ms=target(search_space, search_lut)))
    with pytest.raises(ValueError, match="cannot resume"):
        run("spos", tmp_path, search_lut, fashion_dir, Budgets(max_latency_ms=target(search_space, search_lut, 0.6)),
            resume=True)


def test_sigkilled_search_process_resumes(tmp_path, search_space, search_lut, fashion_dir):
    limit = str(target(search_space, search_lut))
    args = [sys.executable, "-m", "tests.search._search_worker", str(tmp_path / "k"), str(search_lut),
            str(fashion_dir), limit, "spos"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(args[:3] + [str(tmp_path / "s")] + args[4:], cwd=ROOT, env=env, check=True, timeout=300)
    proc = subprocess.Popen(args, cwd=ROOT, env=env)
    state = tmp_path / "k" / "search_state.pt"
    deadline = time.time() + 300
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the search finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "k" / "result.json").exists()
    subprocess.run(args + ["--resume"], cwd=ROOT, env=env, check=True, timeout=300)
    a = torch.load(tmp_path / "s" / "supernet.pt", weights_only=True)
    b = torch.load(tmp_path / "k" / "supernet.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    import json

    assert json.loads((tmp_path / "k" / "result.json").read_text())["arch"] == \
        json.loads((tmp_path / "s" / "result.json").read_text())["arch"]

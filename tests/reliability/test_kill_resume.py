"""SIGKILL mid-checkpoint-write and at random moments, for every search method and for training; the resumed
run ends where an uninterrupted one does, and no checkpoint is ever torn.

The default suite kills spos and training inside an atomic write (after the data, before the rename: the worst
moment); `make test-all` adds the other methods, and kills at a random moment (0-0.5 s after the first checkpoint,
three per method; `slow` marker). On CPU the runs are deterministic, so "ends where
an uninterrupted run does" is checked bit for bit: the same result.json (but its timing) and the same weights.

A kill before the first checkpoint would make the "resume" a fresh run, which ends where an uninterrupted run does
too: every test checks that a checkpoint was on disk when the process died, and that the resumed process loaded
exactly that file (the worker prints the digest of the checkpoint it resumed from).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hwnas.fileio import TEMP_NAME
from hwnas.search.parts.engine import STATE_NAME
from hwnas.train import load_checkpoint
from tests.search.test_methods import SMALL, target

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("search_time_s",)


def worker(*args: str, kill_write: int = 0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HWNAS_TEST_KILL_WRITE": str(kill_write)}
    return subprocess.Popen([sys.executable, "-m", "tests.reliability._kill_worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"worker failed ({proc.returncode}):\n{out[-2000:]}\n{err[-4000:]}"
    return out


def killed(proc: subprocess.Popen) -> None:
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"the worker was not killed (exit {proc.returncode})"


def left_checkpoint(path: Path) -> str:
    """The digest of the checkpoint a killed run left; fails if there is none (the resume would start afresh)."""
    assert path.is_file(), f"no {path.name} when the process died: the resume would be a fresh run"
    load_checkpoint(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resumed_from(stdout: str) -> list[str]:
    """Digests of the checkpoints a worker resumed from (see _kill_worker)."""
    return [line.split()[1] for line in stdout.splitlines() if line.startswith("resumed-from ")]


def no_torn_files(directory: Path) -> None:
    """Every checkpoint in ``directory`` loads; leftovers are only our named temp files (swept on resume)."""
    for path in directory.rglob("*.pt"):
        load_checkpoint(path)
    for path in directory.rglob("*.json"):
        json.loads(path.read_text())


def same_search(a: Path, b: Path) -> None:
    ra, rb = (json.loads((d / "result.json").read_text()) for d in (a, b))
    assert {k: v for k, v in ra.items() if k not in TIMING} == {k: v for k, v in rb.items() if k not in TIMING}
    for name in ("supernet.pt",):
        if (a / name).is_file():
            wa, wb = load_checkpoint(a / name), load_checkpoint(b / name)
            assert all(torch.equal(wa[k], wb[k]) for k in wa)


class Straight:
    """Uninterrupted runs (one per method, and training), made when a test first needs one."""

    def __init__(self, base: Path, lut: Path, data: Path, limit: str) -> None:
        self.base, self.lut, self.data, self.limit = base, lut, data, limit

    def __call__(self, what: str) -> Path:
        out = self.base / what
        if not out.is_dir():
            args = ("train", str(out), str(self.data)) if what == "train" else \
                ("search", what, str(out), str(self.lut), str(self.data), self.limit)
            finish(worker(*args))
        return out


@pytest.fixture(scope="module")
def straight(tmp_path_factory, search_space, search_lut, fashion_dir) -> Straight:
    return Straight(tmp_path_factory.mktemp("straight"), search_lut, fashion_dir,
                    str(target(search_space, search_lut)))


# The default suite kills spos and training inside a write; the other methods are behind the slow marker.
METHODS = [m if m == "spos" else pytest.param(m, marks=pytest.mark.slow) for m in SMALL]


@pytest.mark.parametrize("method", METHODS)
def test_a_search_killed_inside_a_checkpoint_write_resumes_to_the_same_result(method, tmp_path, straight,
                                                                              search_lut, fashion_dir):
    args = ("search", method, str(tmp_path), str(search_lut), str(fashion_dir), straight.limit)
    killed(worker(*args, kill_write=2))
    assert any(TEMP_NAME.match(p.name) for p in tmp_path.iterdir()), "killed between write and rename"
    no_torn_files(tmp_path)
    digest = left_checkpoint(tmp_path / STATE_NAME)
    assert resumed_from(finish(worker(*args, "--resume"))) == [digest]
    assert not any(TEMP_NAME.match(p.name) for p in tmp_path.iterdir())  # swept by the resumed run
    same_search(straight(method), tmp_path)


def test_training_killed_inside_a_checkpoint_write_resumes_bit_exact(tmp_path, straight, fashion_dir):
    killed(worker("train", str(tmp_path), str(fashion_dir), kill_write=4))
    no_torn_files(tmp_path)
    digest = left_checkpoint(tmp_path / "last.pt")
    assert resumed_from(finish(worker("train", str(tmp_path), str(fashion_dir), "--resume"))) == [digest]
    a, b = load_checkpoint(straight("train") / "last.pt"), load_checkpoint(tmp_path / "last.pt")
    assert a["step"] == b["step"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


@pytest.mark.slow
@pytest.mark.parametrize("method", [*SMALL, "train"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_killed_at_a_random_moment_resumes_to_the_same_result(method, seed, tmp_path, straight, search_lut,
                                                             fashion_dir):
    args = ("train", str(tmp_path), str(fashion_dir)) if method == "train" else \
        ("search", method, str(tmp_path), str(search_lut), str(fashion_dir), straight.limit)
    proc = worker(*args)
    first = tmp_path / ("last.pt" if method == "train" else STATE_NAME)
    deadline = time.time() + 120
    while not first.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert first.is_file(), f"no {first.name} within 120 s (worker exit {proc.poll()})"
    time.sleep(random.Random(f"{method}{seed}").uniform(0.0, 0.5))  # a random moment after the first checkpoint
    assert proc.poll() is None, "the run finished before the kill"
    proc.send_signal(signal.SIGKILL)
    killed(proc)
    no_torn_files(tmp_path)
    digest = left_checkpoint(first)
    assert resumed_from(finish(worker(*args, "--resume"))) == [digest]
    if method == "train":
        a, b = load_checkpoint(straight("train") / "last.pt"), load_checkpoint(tmp_path / "last.pt")
        assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    else:
        same_search(straight(method), tmp_path)

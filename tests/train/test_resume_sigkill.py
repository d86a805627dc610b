"""Kill a real training process with SIGKILL mid-epoch, resume it, and demand bit-identical results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hwnas.train import load_checkpoint

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKER = HERE / "_resume_worker.py"
GATE_STEP = 19  # 12 batches/epoch: the kill lands in epoch 1 at batch 7, last checkpoint at step 16

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGKILL")


def _spawn(out_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(out_dir), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen, timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker failed ({proc.returncode}):\n{out}\n{err}"
    return err


def _jsonl(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row.pop("images_per_s", None)  # timing, legitimately different
    return rows


def test_sigkill_mid_epoch_then_resume_is_bit_exact(tmp_path: Path) -> None:
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"
    full = _spawn(full_dir)  # runs alongside the doomed one (2 cores)
    doomed = _spawn(killed_dir, "--gate-step", str(GATE_STEP))
    try:
        deadline = time.monotonic() + 60
        while not (killed_dir / "at_gate").exists():
            assert doomed.poll() is None, f"worker exited early:\n{doomed.communicate()}"
            assert time.monotonic() < deadline, "worker never reached the kill point"
            time.sleep(0.02)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.communicate(timeout=30)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    assert doomed.returncode == -signal.SIGKILL
    assert not (killed_dir / "metrics.json").exists(), "the killed run must not have finished"

    ckpt = load_checkpoint(killed_dir / "last.pt")
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]) == (16, 1, 4)  # mid-epoch checkpoint
    assert len((killed_dir / "metrics.jsonl").read_text().splitlines()) > ckpt["log_lines"]  # lines to drop

    err = _finish(_spawn(killed_dir, "--resume"))
    assert "at step 16 (epoch 1, batch 4)" in err, err  # it really resumed rather than restarting
    _finish(full)

    ref = torch.load(full_dir / "final_model.pt", weights_only=True)
    got = torch.load(killed_dir / "final_model.pt", weights_only=True)
    assert ref.keys() == got.keys()
    for name in ref:
        assert torch.equal(ref[name], got[name]), name

    ref_ck, got_ck = load_checkpoint(full_dir / "last.pt"), load_checkpoint(killed_dir / "last.pt")
    assert ref_ck["ema_updates"] == got_ck["ema_updates"] == 36
    for name, tensor in ref_ck["ema"].items():
        assert torch.equal(tensor, got_ck["ema"][name]), f"ema {name}"
    for pid, buf in ref_ck["optimizer"]["state"].items():
        assert torch.equal(buf["momentum_buffer"], got_ck["optimizer"]["state"][pid]["momentum_buffer"])
    assert torch.equal(ref_ck["rng"]["torch_cpu"], got_ck["rng"]["torch_cpu"])

    assert _jsonl(full_dir / "metrics.jsonl") == _jsonl(killed_dir / "metrics.jsonl")
    ref_m = json.loads((full_dir / "metrics.json").read_text())
    got_m = json.loads((killed_dir / "metrics.json").read_text())
    for key in ("top1", "top5", "loss", "val_top1", "best_val_top1", "epochs", "steps", "nonfinite_skipped"):
        assert ref_m[key] == got_m[key], key
    assert ref_m["steps"] == 36 and ref_m["epochs"] == 3

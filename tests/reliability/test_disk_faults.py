"""Disk full and read-only output: a clear one-line error naming the file, and the previous good files intact.

Each test mounts its own small tmpfs (root only; skipped where mounting is not allowed), so "full" and
"read-only" are the real kernel errors (ENOSPC, EROFS), not mocks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hwnas.fileio import write_text_atomic
from hwnas.train import load_checkpoint, save_checkpoint
from tests.data.fakes import make_fake_fashion

ROOT = Path(__file__).resolve().parents[2]
ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c16 ir_r1_k5_s1_e3_c16_se0.25 | head"


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def hwnas(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "hwnas", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert lines and lines[-1].startswith("hwnas: error: "), done.stderr
    for needle in needles:
        assert needle in lines[-1], lines[-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("fashion")
    make_fake_fashion(directory, n_train=64, n_test=16)
    return directory


def test_a_checkpoint_that_does_not_fit_leaves_the_previous_one_intact(tmp_path):
    with tmpfs(tmp_path / "fs", "64k") as fs:
        small = {"w": torch.zeros(100)}
        save_checkpoint(fs / "last.pt", small)
        before = (fs / "last.pt").read_bytes()
        with pytest.raises(OSError, match=r"cannot write .*last\.pt: No space left on device.*previous version"):
            save_checkpoint(fs / "last.pt", {"w": torch.zeros(100_000)})  # 400 kB into 64 kB
        assert (fs / "last.pt").read_bytes() == before
        assert torch.equal(load_checkpoint(fs / "last.pt")["w"], small["w"])
        assert sorted(p.name for p in fs.iterdir()) == ["last.pt"]  # no temp file left behind


def test_a_text_file_that_does_not_fit_leaves_the_previous_one_intact(tmp_path):
    with tmpfs(tmp_path / "fs", "16k") as fs:
        write_text_atomic(fs / "table.json", '{"ok": true}\n')
        with pytest.raises(OSError, match=r"cannot write .*table\.json: No space left on device"):
            write_text_atomic(fs / "table.json", "x" * 100_000)
        assert (fs / "table.json").read_text() == '{"ok": true}\n'
        assert sorted(p.name for p in fs.iterdir()) == ["table.json"]


def test_writing_into_a_read_only_file_system_names_the_file(tmp_path):
    with tmpfs(tmp_path / "fs", "64k") as fs:
        write_text_atomic(fs / "report.md", "# old\n")
        remount_read_only(fs)
        with pytest.raises(OSError, match=r"cannot write .*report\.md: Read-only file system"):
            write_text_atomic(fs / "report.md", "# new\n")
        assert (fs / "report.md").read_text() == "# old\n"


def test_train_into_a_full_disk_fails_with_one_line(tmp_path, data):
    with tmpfs(tmp_path / "fs", "40k") as fs:
        done = hwnas("train", ARCH, "--data-dir", str(data), "--epochs", "1", "--batch-size", "16", "--no-augment",
                     "--quiet", "--out", str(fs / "run"))
        one_line_error(done, "No space left on device", "cannot write")


def test_train_into_a_read_only_directory_fails_with_one_line(tmp_path, data):
    with tmpfs(tmp_path / "fs", "1m", read_only=True) as fs:
        done = hwnas("train", ARCH, "--data-dir", str(data), "--epochs", "1", "--quiet", "--out", str(fs / "run"))
        one_line_error(done, "Read-only file system", str(fs / "run"))


def test_a_run_stopped_by_a_full_disk_resumes_from_its_last_good_checkpoint(tmp_path, data):
    """Killed after its first checkpoint, resumed onto a full disk (fails, one line, last.pt untouched), resumed
    again with space: it finishes, from that checkpoint (not from scratch, which would finish too)."""
    import json
    import signal
    import time

    args = ["train", ARCH, "--data-dir", str(data), "--batch-size", "16", "--no-augment", "--quiet", "--epochs",
            "30", "--resume"]
    with tmpfs(tmp_path / "fs", "2m") as fs:
        out = fs / "run"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "hwnas", *args, "--out", str(out)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120  # polled, not slept: the machine may be slow and loaded
        while not (out / "last.pt").is_file() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert (out / "last.pt").is_file(), f"no checkpoint within 120 s (exit {proc.returncode})"
        assert running, f"the run ended (exit {proc.returncode}) before it could be killed"
        good = (out / "last.pt").read_bytes()
        saved = load_checkpoint(out / "last.pt")
        assert 1 <= saved["epoch"] < 30 and saved["log_lines"] >= 1
        # Mark the first metrics line, which the checkpoint covers: a resume keeps it as it is, while a run that
        # started from scratch would rewrite the file.
        metrics = out / "metrics.jsonl"
        lines = metrics.read_text().splitlines(keepends=True)
        lines[0] = json.dumps({**json.loads(lines[0]), "from_the_killed_run": True}) + "\n"
        metrics.write_text("".join(lines))
        filler = fs / "filler"
        with open(filler, "wb", buffering=0) as f:  # fill the disk to the last byte
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 4096)
        one_line_error(hwnas(*args, "--out", str(out)), "No space left on device")
        assert (out / "last.pt").read_bytes() == good
        filler.unlink()
        assert hwnas(*args, "--out", str(out)).returncode == 0
        assert load_checkpoint(out / "last.pt")["epoch"] == 30
        assert json.loads(metrics.read_text().splitlines()[0])["from_the_killed_run"] is True

"""Running `hwnas` (or a test entry point) under a real `torchrun`, and checking that every rank left cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What a rank's stderr shows when it dies at exit: std::terminate (a backend thread still joinable, or one forced
# out of a destructor while the interpreter finalises), Python's fatal error, or a group that outlived its
# destruction (hwnas.distributed warns: its threads are the ones that abort).
UNCLEAN_EXIT = ("terminate called", "Aborted", "Fatal Python error", "still referenced after destroy_process_group")


def hwnas(args: list[str], nproc: int = 1, entry: list[str] | None = None, restarts: int = 0,
          env: dict[str, str] | None = None, expect_code: int = 0) -> subprocess.CompletedProcess:
    """`python -m hwnas ARGS`, or the same under `torchrun --nproc_per_node=NPROC`; asserts its exit code.

    Under torchrun every rank's stderr is also kept in a file of its own and checked for a dirty exit: a rank that
    aborts at exit after its work is done fails the test as surely as one that fails mid-way, even when rank 0
    wrote its result. torchrun exits 0 only when every rank of its last attempt did.
    """
    if nproc == 1 and entry is None:
        return _run([sys.executable, "-m", "hwnas", *args], env, expect_code)
    with tempfile.TemporaryDirectory(prefix="torchrun-logs-") as logs:
        done = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                     f"--max-restarts={restarts}", f"--log-dir={logs}", "--redirects=3", "--tee=3",
                     *(entry or ["-m", "hwnas"]), *args], env, expect_code)
        assert_ranks_left_cleanly(Path(logs), nproc)
    assert "SIGABRT" not in done.stderr, f"torchrun reports an aborted rank:\n{done.stderr[-6000:]}"
    return done


def _run(cmd: list[str], env: dict[str, str] | None, expect_code: int) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == expect_code, (f"{' '.join(cmd)} exited {done.returncode}, not {expect_code}:\n"
                                            f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done


def assert_ranks_left_cleanly(logs: Path, nproc: int) -> None:
    """Every rank of torchrun's last attempt left its stderr, and no rank of any attempt shows a dirty exit.

    Earlier attempts of a restart test end with a kill, which is no abort: only the markers are checked there.
    """
    attempts = sorted(logs.glob("*/attempt_*"), key=lambda d: int(d.name.split("_")[1]))
    assert attempts, f"torchrun wrote no per-rank logs under {logs}"
    assert sorted(d.name for d in attempts[-1].iterdir()) == sorted(str(r) for r in range(nproc))
    for attempt in attempts:
        for rank_dir in attempt.iterdir():
            stderr = (rank_dir / "stderr.log").read_text(errors="replace")
            dirty = [m for m in UNCLEAN_EXIT if m in stderr]
            assert not dirty, f"rank {rank_dir.name} of {attempt.name} exited dirty ({dirty}):\n{stderr[-3000:]}"


"""One small search or training run in its own process, for the kill tests.

    python -m tests.reliability._kill_worker search METHOD OUT LUT DATA LIMIT_MS [--resume]
    python -m tests.reliability._kill_worker train OUT DATA [--resume]

With HWNAS_TEST_KILL_WRITE=N the process SIGKILLs itself during its Nth atomic file write, after the data is in
the temporary file and before the rename: the moment a torn checkpoint would appear if writes were not atomic.

A run that resumes from a checkpoint prints ``resumed-from SHA256`` (of the checkpoint file it loaded) on stdout,
so that a test can tell a real resume from a run that quietly started again from scratch.
"""

import hashlib
import os
import signal
import sys

import torch

import hwnas.fileio as fileio
import hwnas.train.loop as train_loop
from hwnas.search.parts.engine import SearchState

torch.set_num_threads(1)


def report(path) -> None:
    print("resumed-from", hashlib.sha256(open(path, "rb").read()).hexdigest(), flush=True)


real_search_load, real_restore = SearchState.load, train_loop.restore_state


def reporting_search_load(self, resume):
    state = real_search_load(self, resume)
    if state is not None:
        report(self.path)
    return state


def reporting_restore(run, state, path):
    report(path)
    return real_restore(run, state, path)


SearchState.load, train_loop.restore_state = reporting_search_load, reporting_restore
KILL_WRITE = int(os.environ.get("HWNAS_TEST_KILL_WRITE", "0"))

if KILL_WRITE:
    real_fsync, writes = fileio._fsync_path, [0]

    def dying_fsync(path):
        real_fsync(path)
        if path.name.endswith(".tmp"):  # the temp file is complete on disk; the rename has not happened
            writes[0] += 1
            if writes[0] == KILL_WRITE:
                os.kill(os.getpid(), signal.SIGKILL)

    fileio._fsync_path = dying_fsync

resume = "--resume" in sys.argv
args = [a for a in sys.argv[1:] if a != "--resume"]
if args[0] == "search":
    from hwnas.search import Budgets, search
    from tests.search.test_methods import SMALL, TINY_YAML

    method, out, lut, data, limit = args[1:6]
    search(method, TINY_YAML, "fashion-mnist", out=out, lut=lut, budgets=Budgets(max_latency_ms=float(limit)),
           overrides=SMALL[method], batch_size=32, data_dir=data, progress=False, tensorboard=False, resume=resume)
else:
    from hwnas.arch import decode
    from hwnas.workflows.train import train_arch

    out, data = args[1:3]
    train_arch(decode("act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c16 ir_r1_k5_s1_e3_c16_se0.25 | head"),
               "fashion-mnist", out, epochs=3, batch_size=32, data_dir=data, resume=resume, progress=False,
               augment=True, tensorboard=False, checkpoint_every_steps=3)

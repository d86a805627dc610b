"""Runs one small search in its own process (the SIGKILL resume test kills it mid-search).

    python -m tests.search._search_worker OUT LUT DATA LIMIT_MS METHOD [--resume]

A search that resumes from a saved state prints ``resumed-from SHA256`` (of the state file it loaded) on stdout,
so that the test can tell a real resume from a run that quietly started again from scratch.
"""

import hashlib
import sys

import torch

from hwnas.search import Budgets, search
from hwnas.search.parts.engine import SearchState
from tests.search.test_methods import SMALL, TINY_YAML

torch.set_num_threads(1)
real_load = SearchState.load


def reporting_load(self, resume):
    state = real_load(self, resume)
    if state is not None:
        print("resumed-from", hashlib.sha256(self.path.read_bytes()).hexdigest(), flush=True)
    return state


SearchState.load = reporting_load
out, lut, data, limit, method = sys.argv[1:6]
search(method, TINY_YAML, "fashion-mnist", out=out, lut=lut, budgets=Budgets(max_latency_ms=float(limit)),
       overrides={**SMALL[method], "epochs": 4} if method == "spos" else SMALL[method], batch_size=32,
       data_dir=data, progress=False, tensorboard=False, resume="--resume" in sys.argv)

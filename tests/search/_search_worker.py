"""Runs one small search in its own process (the SIGKILL resume test kills it mid-search)."""

import sys

import torch

from hwnas.search import Budgets, search
from tests.search.test_methods import SMALL, TINY_YAML

torch.set_num_threads(1)
out, lut, data, limit, method = sys.argv[1:6]
search(method, TINY_YAML, "fashion-mnist", out=out, lut=lut, budgets=Budgets(max_latency_ms=float(limit)),
       overrides={**SMALL[method], "epochs": 4} if method == "spos" else SMALL[method], batch_size=32,
       data_dir=data, progress=False, tensorboard=False, resume="--resume" in sys.argv)

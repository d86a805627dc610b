"""torchrun entry for the teardown test: join the group as the CLI does, take one synchronised BatchNorm step
(its first functional collective imports modules of torch that capture the default group when they are imported
after it exists), leave the group, and write which backend threads this rank still runs to OUT/rank<N>.json."""

import json
import os
import sys
from pathlib import Path

import torch

from hwnas import distributed
from hwnas.nn.global_bn import BatchNorm2d, synchronised


def backend_threads() -> list[str]:
    """Names of this process's gloo threads (Linux names its threads in /proc)."""
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # the thread ended while we looked
            continue
    return sorted(n for n in names if "gloo" in n)


world = distributed.init_from_env("cpu")
before = backend_threads()
bn = BatchNorm2d(3)
with synchronised(bn, world):
    bn(torch.randn(4, 3, 2, 2)).square().sum().backward()
distributed.shutdown(wait_for_peers=True)
report = {"rank": world.rank, "size": world.size, "before": before, "after": backend_threads()}
Path(sys.argv[1], f"rank{os.environ['RANK']}.json").write_text(json.dumps(report))

"""PyTorch's intra-op thread count, set for a while and then restored (the CLI's ``--threads``, the torch latency
backend's ``threads``): restored because tests and library callers run many things in one process."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` inside the block, the previous count after it; ``None``: untouched."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def auto_threads(cores: int | None = None, load: float | None = None) -> int:
    """Threads for a command that shares the machine: the cores this process may use minus the runnable
    processes already there (the 1-minute load average), at least 1.

    Why: OpenMP threads that outnumber the free cores wait on each other at every parallel region; beside two
    busy single-thread processes on 2 cores one training step ran at 85 img/s with 2 threads and 254 img/s with
    1 (docs/RUN.md). On an idle machine this is every core, as PyTorch's default."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, cores - round(load))

"""PyTorch's intra-op thread count, set for a while and then restored (the CLI's ``--threads``, the torch latency
backend's ``threads``): restored because tests and library callers run many things in one process."""

from __future__ import annotations

import contextlib
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

"""Deterministic seeds, epoch orders and batch arithmetic shared by the batch sources.

Every random choice in the data pipeline is drawn from a local ``torch.Generator``
seeded from ``(seed, stream, epoch, batch_index)``. Nothing touches the global RNG,
so a run resumed mid-epoch reproduces exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch

# Stream tags keep the permutation and the augmentation draws independent even
# when they share (seed, epoch, batch_index).
STREAM_ORDER = 1
STREAM_AUGMENT = 2
STREAM_SPLIT = 3
STREAM_LIMIT = 4
STREAM_SAMPLE_SEEDS = 5

_SEED_MASK = (1 << 63) - 1


def check_seed(seed: int, what: str = "seed") -> int:
    """Return ``seed`` if it is a non-negative int, else raise ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {seed!r}")
    return int(seed)


def derive_seed(seed: int, *keys: int) -> int:
    """Mix ``seed`` and integer ``keys`` into one 63-bit seed.

    SeedSequence hashes its inputs well, so nearby keys (epoch 3 vs 4) give
    unrelated streams, unlike ``seed + epoch`` which makes streams overlap.
    """
    entropy = [check_seed(seed)] + [check_seed(k, "seed key") for k in keys]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]
    return int(state) & _SEED_MASK


def make_generator(seed: int, *keys: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh local generator on ``device`` seeded from ``(seed, *keys)``."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(derive_seed(seed, *keys))
    return gen


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int) -> torch.Tensor:
    """Sample order for one epoch: a seeded permutation, or ``arange`` if not shuffling.

    Drawn on the CPU so that the order does not depend on the target device.
    """
    check_seed(epoch, "epoch")
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=make_generator(seed, STREAM_ORDER, epoch))


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    """Batches per epoch for ``n`` samples."""
    return n // batch_size if drop_last else -(-n // batch_size)


def check_batch_size(batch_size: int) -> int:
    """Return ``batch_size`` if it is a positive int, else raise ValueError."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def check_start(start: int, total: int) -> int:
    """Validate a resume position: ``0 <= start <= total`` batches."""
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= total:
        raise ValueError(
            f"start must be an integer batch index in [0, {total}] (batches per epoch), "
            f"got {start!r}"
        )
    return start

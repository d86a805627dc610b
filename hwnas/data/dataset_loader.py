"""A :class:`BatchSource` over any map-style Dataset, via torch's DataLoader.

Used for datasets too big to hold in memory (ImageFolder). The epoch order
and per-sample augmentation seeds come from ``(seed, epoch, batch_index)``, as
in :class:`TensorLoader`, so resuming at a batch reproduces the same batches
whatever ``num_workers`` is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from hwnas.data.sampling import (
    STREAM_SAMPLE_SEEDS,
    check_batch_size,
    check_seed,
    check_start,
    epoch_order,
    make_generator,
    num_batches,
)
from hwnas.data.tensor_pipeline import normalize, normalize_stats


class _EpochBatchSampler(Sampler):
    """Yields the keys of batches ``start..`` of one epoch, with per-sample seeds when wanted."""

    def __init__(self, order: torch.Tensor, batch_size: int, total: int, start: int,
                 seed: int, epoch: int, seeded_keys: bool) -> None:  # fmt: skip
        self.order, self.batch_size, self.total, self.start = order, batch_size, total, start
        self.seed, self.epoch, self.seeded_keys = seed, epoch, seeded_keys

    def __len__(self) -> int:
        return self.total - self.start

    def __iter__(self) -> Iterator[list]:
        for k in range(self.start, self.total):
            idx = self.order[k * self.batch_size : (k + 1) * self.batch_size].tolist()
            if not self.seeded_keys:
                yield idx
                continue
            gen = make_generator(self.seed, STREAM_SAMPLE_SEEDS, self.epoch, k)
            seeds = torch.randint(0, 2**62, (len(idx),), generator=gen).tolist()
            yield list(zip(idx, seeds))


class DatasetLoader:
    """Same protocol as :class:`TensorLoader` for a Dataset yielding ``(uint8 [C,H,W], label)``.

    uint8 batches are moved to ``device`` and normalised there (cheaper to
    transfer than floats); float batches are passed through unchanged.
    Datasets with ``accepts_seeded_keys = True`` get ``(index, seed)`` keys.
    """

    def __init__(self, dataset: Dataset, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, device: str | torch.device = "cpu",
                 mean: float | Sequence[float] | None = None, std: float | Sequence[float] | None = None,
                 channels: int = 3, num_workers: int = 0, pin_memory: bool = False) -> None:  # fmt: skip
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.dataset = dataset
        self.batch_size = check_batch_size(batch_size)
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, check_seed(seed)
        self.device = torch.device(device)
        self.mean = normalize_stats(mean, channels, 0.0, "mean").to(self.device)
        self.std = normalize_stats(std, channels, 1.0, "std").to(self.device)
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.seeded_keys = bool(getattr(dataset, "accepts_seeded_keys", False))

    @property
    def num_samples(self) -> int:
        return len(self.dataset)

    def __len__(self) -> int:
        return num_batches(len(self.dataset), self.batch_size, self.drop_last)

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x float [B,C,H,W], y int64 [B])`` for batches ``start..len-1`` of ``epoch``."""
        check_start(start, len(self))
        order = epoch_order(len(self.dataset), shuffle=self.shuffle, seed=self.seed, epoch=epoch)
        sampler = _EpochBatchSampler(order, self.batch_size, len(self), start, self.seed, epoch, self.seeded_keys)
        loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.num_workers,
                            pin_memory=self.pin_memory)  # fmt: skip
        return self._batches(loader)

    def _batches(self, loader: DataLoader) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        non_blocking = self.pin_memory and self.device.type == "cuda"
        for x, y in loader:
            x = x.to(self.device, non_blocking=non_blocking)
            if x.dtype == torch.uint8:
                x = normalize(x, self.mean, self.std)
            yield x, torch.as_tensor(y).to(self.device, torch.int64, non_blocking=non_blocking)

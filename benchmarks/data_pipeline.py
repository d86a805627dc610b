"""Throughput of the batched TensorLoader vs a per-sample Dataset + DataLoader.

All three variants do the same work on the Fashion-MNIST training set:
zero-pad 2, random 28x28 crop, random horizontal flip, normalise with the
dataset mean/std, batches of 128, shuffled, on the CPU. Passes are
interleaved (A B C A B C ...) so drift in machine load hits every variant
alike; the table reports medians and the speed-up of TensorLoader.

    .venv/bin/python -m benchmarks.data_pipeline --repeats 5 --batches 200   # from the repo root
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, RandomSampler

from hwnas.data import AugmentConfig, TensorLoader, load_dataset

PADDING = 2


class PerSampleAugmented(Dataset):
    """The conventional pipeline: augment one image at a time with torch ops."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, mean: float, std: float, seed: int) -> None:
        self.images, self.labels = images, labels
        self.mean, self.std = mean, std
        # One local generator per dataset copy (each worker gets its own copy).
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.images[i]
        _, h, w = img.shape
        padded = F.pad(img, (PADDING,) * 4)
        top, left = torch.randint(0, 2 * PADDING + 1, (2,), generator=self.gen).tolist()
        crop = padded[:, top : top + h, left : left + w]
        if float(torch.rand((), generator=self.gen)) < 0.5:
            crop = crop.flip(-1)
        return (crop.float() / 255 - self.mean) / self.std, self.labels[i]


def _timed_pass(batches: Iterable, limit: int) -> tuple[int, float]:
    """Images produced and seconds taken for up to ``limit`` batches."""
    start, images = time.perf_counter(), 0
    for i, (x, _) in enumerate(batches):
        images += len(x)
        if i + 1 == limit:
            break
    return images, time.perf_counter() - start


def build_variants(images: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int) -> dict[str, Callable]:
    """Name -> function returning a fresh iterable of batches for one pass."""
    mean, std = 0.2860, 0.3530
    tensor_loader = TensorLoader(images, labels, batch_size, shuffle=True, mean=mean, std=std, seed=seed,
                                 augment=AugmentConfig(crop_size=28, padding=PADDING, flip=True))  # fmt: skip
    dataset = PerSampleAugmented(images, labels, mean, std, seed)

    def dataloader(workers: int) -> DataLoader:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
        # Persistent workers so each timed pass measures throughput, not process start-up.
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                          persistent_workers=workers > 0)  # fmt: skip

    loaders = {0: dataloader(0), 2: dataloader(2)}
    epochs = iter(range(10**9))
    return {
        "TensorLoader (batched, in-memory)": lambda: tensor_loader.epoch_batches(next(epochs)),
        "Dataset+DataLoader, num_workers=0": lambda: iter(loaders[0]),
        "Dataset+DataLoader, num_workers=2": lambda: iter(loaders[2]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per variant")
    parser.add_argument("--batches", type=int, default=200, help="batches per pass (469 = full epoch)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir", default=None, help="Fashion-MNIST directory (default: search path)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batches < 1:
        parser.error("--repeats and --batches must be >= 1")

    info = load_dataset("fashion-mnist", data_dir=args.data_dir, split="train")
    variants = build_variants(info.images, info.labels, args.batch_size, args.seed)
    for make in variants.values():  # warm-up: worker start-up, allocator, caches
        _timed_pass(make(), 5)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, make in variants.items():
            n, seconds = _timed_pass(make(), args.batches)
            rates[name].append(n / seconds)
    print_table(rates, args)


def print_table(rates: dict[str, list[float]], args: argparse.Namespace) -> None:
    """Markdown table: one row per pipeline, medians and the TensorLoader speed-up."""
    print(f"Fashion-MNIST train, batch {args.batch_size}, pad-{PADDING} crop 28 + flip + normalise, CPU; "
          f"{args.batches} batches/pass, {args.repeats} interleaved repeats, torch {torch.__version__}, "
          f"{torch.get_num_threads()} intra-op threads")  # fmt: skip
    headers = ("pipeline", "median img/s", "min img/s", "max img/s", "TensorLoader speed-up")
    baseline = statistics.median(next(iter(rates.values())))
    rows = [
        (name, f"{statistics.median(v):,.0f}", f"{min(v):,.0f}", f"{max(v):,.0f}",
         f"{baseline / statistics.median(v):.1f}x")
        for name, v in rates.items()
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    print(_row(headers, widths))
    print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(_row(row, widths))


def _row(cells: Iterable[str], widths: list[int]) -> str:
    """A markdown row: first column left-aligned, numbers right-aligned."""
    padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
    return "| " + " | ".join(padded) + " |"


if __name__ == "__main__":
    main()

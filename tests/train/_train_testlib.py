"""Shared test helpers: a deterministic synthetic BatchSource and a tiny conv net.

Imported by the tests (pytest puts this directory on sys.path) and by the
subprocess worker used in the SIGKILL resume test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn


class SyntheticSource:
    """BatchSource of Gaussian blobs around one fixed template image per class.

    Batch ``(epoch, index)`` is drawn from a generator seeded by (seed, epoch,
    index) only, so any batch can be reproduced without replaying earlier ones.
    Large ``separation`` makes the problem (near) linearly separable.
    """

    def __init__(self, n_batches: int, *, batch_size: int = 16, num_classes: int = 4, channels: int = 3,
                 size: int = 8, seed: int = 0, separation: float = 1.0, noise: float = 1.0,
                 template_seed: int | None = None) -> None:
        """``template_seed`` (default: ``seed``) fixes the class templates: share it between train and val."""
        self.n_batches, self.batch_size, self.num_classes = n_batches, batch_size, num_classes
        self.seed, self.separation, self.noise = seed, separation, noise
        g = torch.Generator().manual_seed(10_000 + (seed if template_seed is None else template_seed))
        self.templates = torch.randn(num_classes, channels, size, size, generator=g)

    def __len__(self) -> int:
        return self.n_batches

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in range(start, self.n_batches):
            yield self.batch(epoch, index)

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) * 1_000_003 + index)
        y = torch.randint(self.num_classes, (self.batch_size,), generator=g)
        noise = torch.randn((self.batch_size, *self.templates.shape[1:]), generator=g)
        return self.separation * self.templates[y] + self.noise * noise, y


class GatedSource(SyntheticSource):
    """Blocks (until killed) before yielding global batch ``gate_step``, after touching ``marker``."""

    def __init__(self, *args, gate_step: int, marker: Path, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate_step, self.marker = gate_step, marker

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index in range(start, self.n_batches):
            if epoch * self.n_batches + index == self.gate_step:
                self.marker.write_text("waiting to be killed\n")
                time.sleep(120)  # the test SIGKILLs us long before this ends
                raise SystemExit(3)
            yield self.batch(epoch, index)


class TinyNet(nn.Module):
    """Two conv+BN+ReLU blocks, global pooling, dropout and a linear head."""

    def __init__(self, num_classes: int = 4, channels: int = 3, width: int = 8, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class LinearNet(nn.Module):
    """Flatten + linear: the simplest model that can fit a linearly separable source."""

    def __init__(self, num_classes: int = 4, in_features: int = 3 * 8 * 8) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def make_tiny_net(seed: int = 0, **kwargs) -> TinyNet:
    """TinyNet with deterministic init that leaves the caller's global RNG alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyNet(**kwargs)


def make_linear_net(seed: int = 0, **kwargs) -> LinearNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LinearNet(**kwargs)

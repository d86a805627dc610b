"""What a search method is given: the space, the data splits, the budgets, the latency table, where to write.

The training split of the dataset is divided once, stratified and seeded, into 80 % for the supernet weights and
20 % for the architecture (FBNet, Wu et al. 2019, Sec. 4.1: weights on 80 % of the training set, theta on the
other 20 %; SPOS and HardCoRe-NAS score candidates on such a held-out part). The official test split is never
seen by a search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnas.cost.latency.table import LatencyTable
from hwnas.distributed import World
from hwnas.fileio import finite
from hwnas.search.budgets import BudgetConstraint, Budgets
from hwnas.space.base import SearchSpace
from hwnas.train.layout import use_channels_last

ARCH_FRACTION = 0.2


@dataclass
class SearchContext:
    """Everything a method is given; ``loaders.train`` is the weight split, ``loaders.val`` the arch split.

    ``budgets`` are the user's limits as given; ``constraints`` the hard constraints they set on this space (one
    :class:`~hwnas.search.budgets.BudgetConstraint` each, with its exact per-slot cost).
    """

    space: SearchSpace
    loaders: Any  # hwnas.data.Loaders
    constraints: list[BudgetConstraint]
    latency: LatencyTable | None
    out_dir: Path
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    progress: bool = True
    resume: bool = False
    logger: Any = None  # hwnas.train.MetricsLogger (JSONL + TensorBoard), or None
    started: float = field(default_factory=time.perf_counter)
    budgets: Budgets = field(default_factory=lambda: Budgets())
    config: Any = None  # the method's config dataclass
    from_supernet: Path | None = None  # a finished one-shot search whose supernet this search reuses
    world: World = field(default_factory=World)  # the process group (one process unless under torchrun)
    # NHWC supernet weights and batches (same values up to float rounding, faster convs); None: on the devices
    # where it was measured to win (hwnas.train.layout), True/False: always/never.
    channels_last: bool | None = None

    def log(self, step: int, record: dict[str, Any]) -> None:
        if self.logger is not None:
            self.logger.log(step, finite(record))

    def generator(self, stream: int) -> torch.Generator:
        """A CPU generator for one purpose (``stream``) of this search, seeded from the search seed."""
        return torch.Generator().manual_seed(self.seed * 1000 + stream)

    @property
    def use_channels_last(self) -> bool:
        """Whether this search runs its supernet and batches in channels_last on its device."""
        return use_channels_last(self.channels_last, self.device)

    @property
    def show_progress(self) -> bool:
        """Progress bars on this process: asked for, and the main rank (one set of bars per search)."""
        return self.progress and self.world.is_main

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def search_loaders(dataset: str, batch_size: int, seed: int = 0, device: str | torch.device = "cpu", *,
                   data_dir: str | None = None, download: bool = False, limit: int | None = None,
                   augment: bool = False, progress: bool = True) -> Any:
    """Weight (80 %) / arch (20 %, shuffled) / test batch sources. Searches are short proxies: no augmentation
    by default (it slows fitting in a few epochs, see docs/BENCHMARKS.md)."""
    from hwnas.data import make_loaders

    return make_loaders(dataset, batch_size, seed=seed, device=device, val_fraction=ARCH_FRACTION,
                        val_shuffle=True, data_dir=data_dir, download=download, limit=limit, augment=augment,
                        drop_last=True, progress=progress)

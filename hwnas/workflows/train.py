"""Train one architecture from scratch on one dataset into a run directory (``hwnas train``, ``hwnas run``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hwnas.arch import ArchSpec
from hwnas.arch.transform import MIN_FINAL_MAP
from hwnas.workflows.run_dir import RunGeometry, adapt_spec, build, write_run


def train_arch(spec: ArchSpec, dataset: str, out_dir: Path, *, epochs: int = 3, batch_size: int = 128,
               lr: float | None = None, optimizer: str = "sgd", seed: int = 0, device: str = "cpu",
               data_dir: str | None = None, download: bool = False, limit: int | None = None,
               val_fraction: float = 0.1, resume: bool = False, adapt: bool = True, progress: bool = True,
               augment: bool = True, min_final_map: int = MIN_FINAL_MAP, **config: Any) -> dict[str, Any]:
    """Train ``spec`` on ``dataset`` from scratch; returns the metrics written to ``out_dir/metrics.json``."""
    from hwnas.data import make_loaders
    from hwnas.train import TrainConfig, train

    out_dir = Path(out_dir)
    loaders = make_loaders(dataset, batch_size, seed=seed, device=device, val_fraction=val_fraction,
                           data_dir=data_dir, download=download, limit=limit, progress=progress,
                           augment=augment)
    info = loaders.info
    geometry = RunGeometry(dataset, info.input_size, info.in_channels, info.num_classes)
    spec = adapt_spec(spec, info.input_size, adapt, min_final_map)
    write_run(out_dir, spec, geometry, resume)
    if lr is None:
        lr = 0.1 * batch_size / 256 if optimizer == "sgd" else 2e-3  # linear scaling rule (Goyal et al. 2017)
    cfg = TrainConfig(epochs=epochs, optimizer=optimizer, lr=lr, seed=seed, progress=progress, **config)
    torch.manual_seed(seed)  # weight init is the one global-RNG consumer; fixing it makes runs repeatable
    model = build(spec, geometry)
    return train(model, loaders.train, loaders.val, cfg, out_dir, device=device, resume=resume,
                 test_source=loaders.test)

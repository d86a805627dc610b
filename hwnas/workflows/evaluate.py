"""Test a trained network on the official test split of its dataset (``hwnas eval``)."""

from __future__ import annotations

from pathlib import Path

from hwnas.arch import ArchSpec
from hwnas.workflows.run_dir import RunGeometry, load_trained


def evaluate_arch(spec: ArchSpec, geometry: RunGeometry, checkpoint: Path, *, batch_size: int = 256,
                  data_dir: str | None = None, device: str = "cpu", limit: int | None = None,
                  channels_last: bool | None = None) -> dict[str, float]:
    """Top-1/top-5/loss of a trained network on the official test split of its dataset (in channels_last where
    that is faster, unless ``channels_last`` says otherwise: :mod:`hwnas.train.layout`)."""
    from hwnas.data import load_dataset, make_source
    from hwnas.train import evaluate
    from hwnas.train.layout import model_to_layout, use_channels_last

    channels_last = use_channels_last(channels_last, device)
    model = model_to_layout(load_trained(spec, geometry, checkpoint).to(device), channels_last)
    test = load_dataset(geometry.dataset, split="test", data_dir=data_dir, limit=limit)
    return evaluate(model, make_source(test, batch_size, seed=0, device=device), device=device,
                    channels_last=channels_last)

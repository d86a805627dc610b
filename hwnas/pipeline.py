"""Library entry points behind the CLI: train, evaluate and export one architecture on one dataset.

A training run directory holds everything needed to rebuild and reuse the network without the command line that
made it: ``arch.json`` (the spec as trained, after any small-input adaptation), ``run.json`` (dataset and input
geometry), checkpoints ``last.pt``/``best.pt``, ``metrics.json`` and ``metrics.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hwnas.arch import ArchSpec, dumps, encode, for_input_size
from hwnas.arch.transform import MIN_FINAL_MAP
from hwnas.export import ExportReport, export_model
from hwnas.fileio import write_text_atomic

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunGeometry:
    """What a built network needs to know about its data."""

    dataset: str
    input_size: int
    in_channels: int
    num_classes: int


def adapt_spec(spec: ArchSpec, input_size: int, adapt: bool = True, min_final_map: int = MIN_FINAL_MAP) -> ArchSpec:
    """The spec as it will be built for ``input_size`` (small inputs drop the first downsamplings until the final
    feature map is at least ``min_final_map`` pixels a side)."""
    return for_input_size(spec, input_size, min_final_map) if adapt else spec


def build(spec: ArchSpec, geometry: RunGeometry) -> torch.nn.Module:
    from hwnas.nn import build_model

    return build_model(spec, num_classes=geometry.num_classes, in_channels=geometry.in_channels)


def read_run(run_dir: Path) -> tuple[ArchSpec, RunGeometry]:
    """Spec and geometry of a finished or partial training run directory."""
    from hwnas.arch import loads

    run_dir = Path(run_dir)
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        raise FileNotFoundError(f"{run_file} not found: {run_dir} is not an hwnas training run directory")
    try:
        data = json.loads(run_file.read_text())
        geometry = RunGeometry(**{k: data[k] for k in ("dataset", "input_size", "in_channels", "num_classes")})
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{run_file} is corrupt: {e}") from None
    return loads((run_dir / "arch.json").read_text()), geometry


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
    _write_run(out_dir, spec, geometry, resume)
    if lr is None:
        lr = 0.1 * batch_size / 256 if optimizer == "sgd" else 2e-3  # linear scaling rule (Goyal et al. 2017)
    cfg = TrainConfig(epochs=epochs, optimizer=optimizer, lr=lr, seed=seed, progress=progress, **config)
    torch.manual_seed(seed)  # weight init is the one global-RNG consumer; fixing it makes runs repeatable
    model = build(spec, geometry)
    return train(model, loaders.train, loaders.val, cfg, out_dir, device=device, resume=resume,
                 test_source=loaders.test)


def _write_run(out_dir: Path, spec: ArchSpec, geometry: RunGeometry, resume: bool) -> None:
    arch_file = out_dir / "arch.json"
    # run.json is written last: without it a kill came between the two writes, before any training began, and
    # there is nothing to resume (or to compare against).
    if resume and (out_dir / RUN_FILE).is_file():
        old_spec, previous = read_run(out_dir)
        if old_spec != spec or previous != geometry:
            raise ValueError(f"cannot resume in {out_dir}: it holds a run of a different architecture or dataset "
                             f"({encode(old_spec)} on {previous.dataset})")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(arch_file, dumps(spec))
    write_text_atomic(out_dir / RUN_FILE, json.dumps({**geometry.__dict__, "arch": encode(spec)}, indent=2) + "\n")


def load_trained(spec: ArchSpec, geometry: RunGeometry, checkpoint: Path) -> torch.nn.Module:
    """Build ``spec`` and load weights from a training checkpoint (``last.pt``/``best.pt``) or ``weights.pt``."""
    from hwnas.train import load_checkpoint

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    state = load_checkpoint(checkpoint, map_location="cpu")
    weights = state
    if isinstance(state, dict) and "model" in state:  # a training checkpoint rather than a bare state dict
        weights = state.get("ema") or state["model"]  # EMA weights are the ones that were evaluated
    model = build(spec, geometry)
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ValueError(f"checkpoint {checkpoint} does not fit architecture {encode(spec)}: "
                         f"{str(e).splitlines()[0]}") from None
    return model.eval()


def evaluate_arch(spec: ArchSpec, geometry: RunGeometry, checkpoint: Path, *, batch_size: int = 256,
                  data_dir: str | None = None, device: str = "cpu", limit: int | None = None) -> dict[str, float]:
    """Top-1/top-5/loss of a trained network on the official test split of its dataset."""
    from hwnas.data import load_dataset, make_source
    from hwnas.train import evaluate

    model = load_trained(spec, geometry, checkpoint).to(device)
    test = load_dataset(geometry.dataset, split="test", data_dir=data_dir, limit=limit)
    return evaluate(model, make_source(test, batch_size, seed=0, device=device), device=device)


def export_arch(spec: ArchSpec, geometry: RunGeometry, checkpoint: Path | None, out: Path, fmt: str,
                fold_bn: bool = True) -> ExportReport:
    """Export a trained (or, without a checkpoint, freshly initialised) network and verify the export."""
    model = load_trained(spec, geometry, checkpoint) if checkpoint else build(spec, geometry)
    return export_model(model, spec, Path(out), fmt, geometry.input_size, geometry.in_channels, fold_bn=fold_bn)


def export_int8(spec: ArchSpec, geometry: RunGeometry, checkpoint: Path | None, fp32: Path, *,
                calib_images: int = 300, rounds: int = 50, data_dir: str | None = None, threads: int = 1,
                download: bool = False) -> dict[str, Any]:
    """The int8 model beside the fp32 ONNX export ``fp32`` (:mod:`hwnas.quantize`), calibrated on
    ``calib_images`` training images; both timed on ONNX Runtime in the same interleaved rounds (batch 1) and,
    with a checkpoint, both evaluated on the test split. Written to ``<fp32>.int8.json`` and returned."""
    from hwnas.cost.latency.measure import time_models
    from hwnas.data import make_loaders
    from hwnas.quantize import calibration_images, onnx_top1, quantize_onnx

    if geometry.dataset in (None, "none"):
        raise ValueError("--int8 calibrates on training images: give --dataset (or a checkpoint in its run dir)")
    loaders = make_loaders(geometry.dataset, 64, seed=0, data_dir=data_dir, download=download, augment=False,
                           progress=False)
    int8 = fp32.with_name(fp32.stem + ".int8.onnx")
    quantize_onnx(fp32, int8, calibration_images(loaders.train, calib_images))
    timings = time_models([fp32, int8], "onnxruntime", threads, 1, 10, rounds,
                          input_shapes=(geometry.in_channels, geometry.input_size, geometry.input_size))
    report = {"fp32": str(fp32), "int8": str(int8), "calib_images": calib_images, "threads": threads,
              "rounds": rounds, "fp32_ms": timings[0].median_ms, "int8_ms": timings[1].median_ms,
              "speedup": timings[0].median_ms / timings[1].median_ms, "fp32_top1": None, "int8_top1": None}
    if checkpoint is not None:
        report["fp32_top1"] = onnx_top1(fp32, loaders.test, threads)
        report["int8_top1"] = onnx_top1(int8, loaders.test, threads)
    write_text_atomic(int8.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    return report

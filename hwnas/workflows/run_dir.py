"""A training run directory: what it holds, how it is written and read back, and the trained network it holds.

A training run directory holds everything needed to rebuild and reuse the network without the command line that
made it: ``arch.json`` (the spec as trained, after any small-input adaptation), ``run.json`` (dataset and input
geometry), checkpoints ``last.pt``/``best.pt``, ``metrics.json`` and ``metrics.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from hwnas.arch import ArchSpec, dumps, encode, for_input_size
from hwnas.arch.transform import MIN_FINAL_MAP
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


def write_run(out_dir: Path, spec: ArchSpec, geometry: RunGeometry, resume: bool) -> None:
    """Write ``arch.json`` and ``run.json`` of a run in ``out_dir``; resuming, check they match the run there."""
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

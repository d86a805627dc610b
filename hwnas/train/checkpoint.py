"""Atomic, safe checkpoint files.

Writes go through :func:`hwnas.fileio.write_bytes_atomic`, so a crash (even SIGKILL or
power loss) leaves either the old or the new file, never a torn one. Loads use
``torch.load(weights_only=True)``, which refuses pickles that would run code.

A training checkpoint (written by ``hwnas.train.state.capture_state``) is a
dict of tensors and builtins: ``model`` (state dict), ``ema`` (the averaged
weights as a plain model state dict, or None), ``optimizer``, ``scaler``,
``step``, ``epoch``, ``batch_in_epoch``, ``config`` (``TrainConfig.to_dict()``),
``best_val_top1``, ``last_val``, ``rng`` and some counters. To get the weights
that were evaluated: ``ckpt["ema"] or ckpt["model"]``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

from hwnas.fileio import remove_stale_temp_files, write_bytes_atomic

LAST_NAME = "last.pt"  # most recent state; what resume loads
BEST_NAME = "best.pt"  # state at the epoch with the best val top-1


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Atomically write ``state`` (tensors and builtins only) to ``path``."""
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint state must be a dict, got {type(state).__name__}")
    # Serialised in memory first: torch.save reports a failed write (a full disk) as a RuntimeError without the
    # errno, while a plain write gives the OSError that names the file and the cause.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``.

    Raises FileNotFoundError if missing, ValueError naming the file if it is
    truncated, corrupt, or contains objects a weights-only load refuses.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist (or is not a file)")
    try:
        state = torch.load(path, weights_only=True, map_location=map_location)
    except PermissionError:
        raise
    except Exception as e:  # torch reports torn files as EOFError, RuntimeError or OSError(EINVAL)
        raise ValueError(f"checkpoint {path} is corrupt, truncated or unsafe to load: {e}") from e
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
    return state


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """Path of ``directory/last.pt`` if it exists, else None (also if the directory is missing)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a directory")
    path = directory / LAST_NAME
    return path if path.is_file() else None


def capture_rng_state(device: torch.device) -> dict[str, torch.Tensor | None]:
    """Torch CPU RNG state, plus the CUDA one for ``device`` when it is a CUDA device."""
    cuda = torch.cuda.get_rng_state(_cuda_index(device)) if device.type == "cuda" else None
    return {"torch_cpu": torch.get_rng_state(), "torch_cuda": cuda}


def restore_rng_state(state: dict[str, torch.Tensor | None], device: torch.device) -> None:
    """Inverse of ``capture_rng_state``."""
    torch.set_rng_state(state["torch_cpu"].cpu())
    if device.type == "cuda" and state.get("torch_cuda") is not None:
        torch.cuda.set_rng_state(state["torch_cuda"].cpu(), _cuda_index(device))


def _cuda_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()

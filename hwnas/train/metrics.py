"""Accuracy metrics and a JSONL (+ optional TensorBoard) metrics logger."""

from __future__ import annotations

import io
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from hwnas.fileio import write_text_atomic

log = logging.getLogger(__name__)

JSONL_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tb"


def topk_correct(logits: torch.Tensor, targets: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[int]:
    """Number of rows whose target is among the top-k logits, for each k.

    k larger than the number of classes is clamped (top-5 of a 3-class problem is 100%).
    """
    if logits.ndim != 2 or targets.ndim != 1 or logits.shape[0] != targets.shape[0]:
        raise ValueError(
            f"expected logits [N, C] and targets [N], got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {list(ks)}")
    maxk = min(max(ks), logits.shape[1])
    top = logits.topk(maxk, dim=1).indices  # [N, maxk]
    hits = top.eq(targets.unsqueeze(1))
    return [int(hits[:, : min(k, maxk)].any(dim=1).sum()) for k in ks]


def topk_accuracy(logits: torch.Tensor, targets: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[float]:
    """Top-k accuracy in percent (0-100) for each k."""
    n = targets.shape[0]
    if n == 0:
        raise ValueError("topk_accuracy needs at least one sample")
    return [100.0 * c / n for c in topk_correct(logits, targets, ks)]


class MetricsLogger:
    """Appends one JSON object per ``log`` call to ``out_dir/metrics.jsonl``; mirrors numbers to TensorBoard.

    ``keep_lines`` makes a resumed run consistent: the JSONL file is cut back
    to its first ``keep_lines`` complete lines (what existed when the resumed
    checkpoint was written) so records from the killed run are not duplicated.
    ``keep_lines=0`` starts a fresh file.
    """

    def __init__(self, out_dir: str | os.PathLike, *, tensorboard: bool = True, keep_lines: int = 0) -> None:
        from hwnas.distributed import is_main

        self.path = Path(out_dir) / JSONL_NAME
        self.writing = is_main()  # under torchrun, rank 0 logs; the others only count lines
        self.lines_written = _truncate_jsonl(self.path, keep_lines) if self.writing else keep_lines
        self._file = open(self.path, "a", encoding="utf-8") if self.writing else io.StringIO()
        self._tb = _open_tensorboard(Path(out_dir) / TENSORBOARD_DIR) if tensorboard and self.writing else None

    def log(self, step: int, record: Mapping[str, Any]) -> None:
        """Write ``{"step": step, **record}``; flushed and fsynced so a crash loses at most this line."""
        line = json.dumps({"step": step, **record}, allow_nan=False, default=_json_default)
        if not self.writing:
            self.lines_written += 1
            return
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.lines_written += 1
        if self._tb is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    self._tb.add_scalar(key, value, global_step=step)

    def close(self) -> None:
        """Close the JSONL file and the TensorBoard writer."""
        if not self._file.closed:
            self._file.close()
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """Atomically write ``data`` as pretty JSON."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def _truncate_jsonl(path: Path, keep_lines: int) -> int:
    if keep_lines < 0:
        raise ValueError(f"keep_lines must be >= 0, got {keep_lines}")
    if keep_lines == 0 or not path.exists():
        path.write_text("", encoding="utf-8")
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [ln for ln in lines[:keep_lines] if ln.endswith("\n")]  # a torn last line is dropped
    write_text_atomic(path, "".join(kept))
    return len(kept)


def _open_tensorboard(log_dir: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.info("tensorboard is not installed; writing metrics.jsonl only")
        return None
    return SummaryWriter(log_dir=str(log_dir))


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to metrics JSON")

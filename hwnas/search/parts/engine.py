"""The parts every search method shares: the weight optimiser and its schedule, an epoch of steps with a
progress bar, scoring one candidate on the supernet, and the resumable search state.

Supernet weights are trained as hwnas trains any network (:mod:`hwnas.train`): SGD with Nesterov momentum, weight
decay on weights only, a cosine schedule over all weight steps, and a stated non-finite policy (a step whose loss
or gradient is NaN/inf is skipped, ten in a row abort the search with :class:`~hwnas.train.NonFiniteLossError`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from hwnas.distributed import World
from hwnas.nn.global_bn import synchronised
from hwnas.supernet import Supernet, recalibrate_bn
from hwnas.train import NonFiniteLossError, TrainConfig, build_optimizer, evaluate, load_checkpoint, lr_at_step
from hwnas.train import save_checkpoint
from hwnas.train.layout import model_to_layout, to_layout, use_channels_last

log = logging.getLogger(__name__)

STATE_NAME = "search_state.pt"
MAX_NONFINITE = 10


class WeightTrainer:
    """SGD on the supernet weights with a cosine schedule over ``total_steps`` (one call of :meth:`update` per
    step)."""

    def __init__(self, model: nn.Module, total_steps: int, lr: float = 0.05, weight_decay: float = 4e-5,
                 momentum: float = 0.9, grad_clip: float | None = 5.0, min_lr: float = 0.0,
                 world: World | None = None, warmup_steps: int = 0, channels_last: bool | None = None) -> None:
        cfg = TrainConfig(epochs=1, lr=lr, weight_decay=weight_decay, momentum=momentum, min_lr=min_lr,
                          grad_clip=grad_clip, progress=False, tensorboard=False)
        self.model, self.cfg = model, cfg
        self.world = world or World()  # whose gradients and losses a step averages
        self.optimizer = build_optimizer(model, cfg)
        self.total_steps = max(int(total_steps), 1)
        self.warmup_steps = max(int(warmup_steps), 0)  # linear warm-up from 0 (Goyal et al. 2017; BigNAS)
        self.step = 0
        self.nonfinite = 0  # consecutive
        self.skipped = 0
        # The memory format of the weights (hwnas.train.layout): None picks it by the model's device, which is
        # only known once the caller has moved the model, so it is settled on the first step.
        self.channels_last_setting = channels_last
        self.channels_last: bool | None = None

    @property
    def lr(self) -> float:
        return lr_at_step(min(self.step, self.total_steps - 1), base_lr=self.cfg.lr, min_lr=self.cfg.min_lr,
                          warmup_steps=self.warmup_steps, total_steps=self.total_steps)

    def update(self, loss_fn: Callable[[], torch.Tensor], params: Iterable[nn.Parameter] | None = None) -> float:
        """One step: ``loss_fn()`` builds the loss (of this rank's shard), backward, gradients averaged over the
        ranks (:mod:`hwnas.distributed`), clip, SGD step. Returns the global batch's loss."""
        self._settle_layout()
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        self.optimizer.zero_grad(set_to_none=True)
        world = self.world
        with synchronised(self.model, world):
            loss = loss_fn()
        value = world.mean(float(loss.detach()))  # the global batch's loss; NaN on any rank skips on all
        ok = math.isfinite(value)
        if ok:
            loss.backward()
            weights = [p for g in self.optimizer.param_groups for p in g["params"]]
            world.average_gradients(weights)  # before clipping: clip the global gradient, as one process would
            if self.cfg.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(weights, self.cfg.grad_clip)
                ok = bool(torch.isfinite(norm))
        self.step += 1
        if not ok:
            self.optimizer.zero_grad(set_to_none=True)
            return self._nonfinite(value)
        self.nonfinite = 0
        self.optimizer.step()
        return value

    def _settle_layout(self) -> None:
        """Weights in channels_last (or not) before the first step; the optimizer keeps the same Parameters, and
        its momentum buffers, made from the gradients, follow their layout."""
        if self.channels_last is None:
            first = next(self.model.parameters(), None)
            device = first.device if first is not None else torch.device("cpu")
            self.channels_last = use_channels_last(self.channels_last_setting, device)
            model_to_layout(self.model, self.channels_last)

    def _nonfinite(self, value: float) -> float:
        self.nonfinite += 1
        self.skipped += 1
        if self.nonfinite >= MAX_NONFINITE:
            raise NonFiniteLossError(f"{self.nonfinite} consecutive non-finite supernet steps (loss={value}) at "
                                     f"step {self.step}: lower the learning rate or check the data")
        log.warning("non-finite supernet loss %s at step %d: step skipped", value, self.step)
        return value

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "step": self.step, "skipped": self.skipped}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.skipped = int(state["step"]), int(state["skipped"])


def build_supernet(space: Any, cfg: Any) -> Supernet:
    """The supernet a method's config asks for: its ``sharing`` ("independent" or "entangled"),
    ``kernel_transform`` and ``zero_init_residual`` fields (:class:`~hwnas.supernet.Supernet`)."""
    return Supernet(space, sharing=cfg.sharing, kernel_transform=cfg.kernel_transform,
                    zero_init_residual=cfg.zero_init_residual)


def run_epoch(source: Any, epoch: int, step: Callable[[torch.Tensor, torch.Tensor], float], desc: str,
              progress: bool, device: torch.device, limit: int | None = None,
              channels_last: bool | None = None) -> float:
    """Call ``step(x, y)`` on every batch of ``source``'s ``epoch`` (at most ``limit``); the mean finite loss.
    The batches are on ``device``, in channels_last or not (None: where it is faster, :mod:`hwnas.train.layout`;
    the trainer's weights follow the same rule)."""
    channels_last = use_channels_last(channels_last, device)
    total = len(source) if limit is None else min(limit, len(source))
    losses = []
    with tqdm(total=total, desc=desc, disable=not progress, dynamic_ncols=True,
              leave=False) as bar:
        for i, (x, y) in enumerate(source.epoch_batches(epoch)):
            if i >= total:
                break
            x, y = x.to(device), y.to(device)
            loss = step(to_layout(x, channels_last), y)
            if math.isfinite(loss):
                losses.append(loss)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
    return sum(losses) / len(losses) if losses else float("nan")


def cycle_batches(source: Any, first_epoch: int = 0):
    """Batches of ``source`` without end: its epoch ``first_epoch``, then the next epochs (each in its own order)."""
    epoch = first_epoch
    while True:
        empty = True
        for batch in source.epoch_batches(epoch):
            empty = False
            yield batch
        if empty:
            raise ValueError("the batch source yields no batches")
        epoch += 1


def batches(source: Any, count: int, epoch: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``count`` batches of ``source``'s ``epoch`` (BN recalibration data)."""
    out = []
    for i, batch in enumerate(source.epoch_batches(epoch)):
        if i >= count:
            break
        out.append(batch)
    return out


def score_choice(supernet: Supernet, choice: Mapping[str, Any], calibration: list, val_source: Any,
                 device: torch.device, channels_last: bool | None = None) -> float:
    """Validation top-1 (%) of ``choice`` on the supernet after recalibrating its path's BN statistics on
    ``calibration`` batches (SPOS, Guo et al. 2019, Sec. 3.3: BN statistics of a shared supernet fit no child).

    Runs in channels_last where that is faster (``channels_last``, :mod:`hwnas.train.layout`): the supernet is put
    in that layout first (a no-op when its training did so; a supernet loaded from disk is contiguous)."""
    channels_last = use_channels_last(channels_last, device)
    model_to_layout(supernet, channels_last)
    inputs = [batch[0] if isinstance(batch, (tuple, list)) else batch for batch in calibration]
    recalibrate_bn(supernet, choice, [to_layout(x, channels_last) for x in inputs])
    return float(evaluate(supernet, val_source, device, channels_last=channels_last)["top1"])


# ---------------------------------------------------------------------------------------------- state
def metrics_lines(out_dir: Path) -> int:
    """Complete lines of ``out_dir/metrics.jsonl`` (the logger fsyncs each line, so the file is up to date)."""
    from hwnas.train.metrics import JSONL_NAME

    path = Path(out_dir) / JSONL_NAME
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if line.endswith("\n"))


def resumed_metrics_lines(out_dir: Path) -> int:
    """The metrics lines a resumed search keeps: those logged when its state was saved; none without a state
    (the search starts from scratch); all of them for a state saved before the count was recorded."""
    path = Path(out_dir) / STATE_NAME
    if not path.is_file():
        return 0
    saved = load_checkpoint(path).get("metrics_lines")
    return metrics_lines(out_dir) if saved is None else int(saved)


class SearchState:
    """The resumable state of a search in ``out_dir/search_state.pt`` (atomic writes, ``weights_only`` loads)."""

    def __init__(self, out_dir: Path, method: str, fingerprint: Mapping[str, Any]) -> None:
        self.path = Path(out_dir) / STATE_NAME
        self.method = method
        self.fingerprint = dict(fingerprint)

    def save(self, state: Mapping[str, Any]) -> None:
        # The metrics lines logged so far go with this state: a search killed after logging a line but before
        # its next save reruns that step on resume, and must not find the line already there.
        save_checkpoint(self.path, {"method": self.method, "fingerprint": self.fingerprint, **state,
                                    "metrics_lines": metrics_lines(self.path.parent)})

    def load(self, resume: bool) -> dict[str, Any] | None:
        """The saved state when resuming (``None`` when there is none); a state of another search is an error."""
        if not resume or not self.path.is_file():
            if resume:
                log.info("resume: no %s yet, starting the search from scratch", self.path)
            return None
        state = load_checkpoint(self.path)
        if state.get("method") != self.method or state.get("fingerprint") != self.fingerprint:
            theirs = state.get("fingerprint", {})
            diff = sorted(k for k in set(theirs) | set(self.fingerprint) if theirs.get(k) != self.fingerprint.get(k))
            raise ValueError(f"cannot resume in {self.path.parent}: it holds a {state.get('method')} search with "
                             f"other settings ({', '.join(diff) or 'method'} differ); use another --out")
        return state


class LimitedSource:
    """The first ``batches`` batches of a batch source (candidate scoring on part of the arch split)."""

    def __init__(self, source: Any, batches: int | None) -> None:
        self.source = source
        self.batches = len(source) if batches is None else min(int(batches), len(source))

    def __len__(self) -> int:
        return self.batches

    def epoch_batches(self, epoch: int, start: int = 0):
        for i, batch in enumerate(self.source.epoch_batches(epoch, start)):
            if start + i >= self.batches:
                return
            yield batch

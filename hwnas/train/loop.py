"""The training loop: ``train`` runs epochs of SGD/AdamW steps, evaluates, checkpoints and resumes.

Read ``train`` top to bottom; each helper below does one part of it. All
state the loop mutates lives in ``RunState`` (``state.py``) and is saved in
every checkpoint, so a run killed at any point and restarted with
``resume=True`` ends with bit-identical weights on CPU.

Under ``torchrun`` the model is wrapped in DistributedDataParallel, each rank
trains on its shard of every global batch with global-batch BatchNorm, and
rank 0 alone writes checkpoints and logs (:mod:`hwnas.distributed`): the run
takes the steps a single process takes on the same global batches.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from hwnas import distributed
from hwnas.fileio import remove_stale_temp_files
from hwnas.nn.global_bn import synchronised
from hwnas.train.checkpoint import (
    BEST_NAME,
    LAST_NAME,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from hwnas.train.config import TrainConfig
from hwnas.train.distill import kd_loss, teacher_logits
from hwnas.train.ema import ModelEma
from hwnas.train.evaluate import evaluate
from hwnas.train.layout import model_to_layout, to_layout, use_channels_last
from hwnas.train.metrics import MetricsLogger, write_json
from hwnas.train.optim import build_optimizer
from hwnas.train.schedule import lr_at_step, schedule_steps
from hwnas.train.state import RunState, capture_state, restore_state

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.json"


class NonFiniteLossError(RuntimeError):
    """The loss or gradient norm became NaN/inf and ``TrainConfig.nonfinite_policy`` says to stop."""


def train(
    model: nn.Module,
    train_source: Any,
    val_source: Any,
    cfg: TrainConfig,
    out_dir: str | Path,
    *,
    device: torch.device | str,
    teacher: nn.Module | None = None,
    resume: bool = False,
    test_source: Any = None,
) -> dict[str, Any]:
    """Train ``model`` in place; returns the final metrics, also written to ``out_dir/metrics.json``.

    Sources follow the BatchSource protocol (``len()`` and
    ``epoch_batches(epoch, start)``). With ``resume=True`` the run continues
    from ``out_dir/last.pt`` if it exists (else starts fresh). A ``teacher``
    turns on knowledge distillation. ``top1``/``top5``/``loss`` in the result
    are measured on ``test_source`` when given, else on the last validation.
    """
    _check_args(model, train_source, val_source, test_source, cfg, teacher)
    device = torch.device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Dropout etc. draw from torch's global RNG. Fork it so training is reproducible from cfg.seed
    # (and resumable from the saved state) while the caller's RNG stream is left exactly as it was.
    with torch.random.fork_rng(devices=_cuda_indices(device)):
        _seed_torch(cfg.seed, device)
        run = _setup(model, cfg, device, teacher, len(train_source))
        keep_lines = _maybe_resume(run, out_dir, resume)
        with MetricsLogger(out_dir, tensorboard=cfg.tensorboard, keep_lines=keep_lines) as logger:
            while run.epoch < cfg.epochs:
                _train_epoch(run, train_source, logger, out_dir)
                _end_epoch(run, val_source, logger, out_dir)
        metrics = _final_metrics(run, test_source)
    write_json(out_dir / METRICS_NAME, metrics)
    return metrics


def _setup(
    model: nn.Module, cfg: TrainConfig, device: torch.device, teacher: nn.Module | None, steps_per_epoch: int
) -> RunState:
    """Move models to the device and build optimizer, GradScaler and EMA."""
    amp_dtype = _amp_dtype(cfg, device)
    # NHWC weights and batches where that is faster (hwnas.train.layout); before the optimizer, DDP and the EMA
    # copy are built, so that momentum buffers, gradient buckets and the EMA weights take the same layout.
    channels_last = use_channels_last(cfg.channels_last, device)
    model_to_layout(model.to(device), channels_last)
    if teacher is not None:
        # Fixed BN statistics and no dropout: the teacher is a constant target. It sees the student's batches,
        # so it runs in their layout.
        model_to_layout(teacher.to(device), channels_last).eval()
    optimizer = build_optimizer(model, cfg)
    # Loss scaling is only needed for fp16, whose narrow exponent range underflows small gradients.
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    ema = ModelEma(model, cfg.ema_decay) if cfg.ema_decay is not None else None
    warmup_steps, total_steps = schedule_steps(cfg, steps_per_epoch)
    parallel = None
    if distributed.current().active:
        from torch.nn.parallel import DistributedDataParallel

        # Buffers are not re-sent every forward: global-batch BN keeps them identical (checked each epoch).
        parallel = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                           forward_sync_buffers=False)
    return RunState(
        cfg=cfg,
        device=device,
        model=model,
        optimizer=optimizer,
        scaler=scaler,
        ema=ema,
        teacher=teacher,
        amp_dtype=amp_dtype,
        channels_last=channels_last,
        steps_per_epoch=steps_per_epoch,
        warmup_steps=warmup_steps,
        total_steps=total_steps,
        parallel=parallel,
    )


def _maybe_resume(run: RunState, out_dir: Path, resume: bool) -> int:
    """Load ``out_dir/last.pt`` into ``run`` when resuming; returns the metrics.jsonl lines to keep."""
    removed = remove_stale_temp_files(out_dir)  # left behind if a previous process died mid-save (rank 0 only)
    if removed:
        log.info("removed %d stale temp file(s) from %s", len(removed), out_dir)
    path = latest_checkpoint(out_dir)
    if not resume:
        if path is not None:
            log.warning("%s exists but resume=False: training from scratch and overwriting it", path)
        return 0
    if path is None:
        log.info("resume=True but there is no %s in %s: training from scratch", LAST_NAME, out_dir)
        return 0
    keep_lines = restore_state(run, load_checkpoint(path, map_location="cpu"), path)
    log.info("resumed from %s at step %d (epoch %d, batch %d)", path, run.step, run.epoch, run.batch_in_epoch)
    return keep_lines


def _train_epoch(run: RunState, source: Any, logger: MetricsLogger, out_dir: Path) -> None:
    """Train from ``(run.epoch, run.batch_in_epoch)`` to the end of the epoch."""
    cfg = run.cfg
    run.model.train()
    with tqdm(
        total=run.steps_per_epoch,
        initial=run.batch_in_epoch,
        desc=f"epoch {run.epoch + 1}/{cfg.epochs}",
        disable=not (cfg.progress and distributed.is_main()),
        dynamic_ncols=True,
    ) as bar:
        window_images, window_s = 0, 0.0  # since the last log line, for images/s
        tick = time.perf_counter()
        for x, y in source.epoch_batches(run.epoch, run.batch_in_epoch):
            if run.batch_in_epoch >= run.steps_per_epoch:  # would run the LR schedule past its end
                raise ValueError(
                    f"train_source yielded more than len()={run.steps_per_epoch} batches in epoch {run.epoch}"
                )
            lr = lr_at_step(run.step, base_lr=cfg.lr, min_lr=cfg.min_lr, warmup_steps=run.warmup_steps,
                            total_steps=run.total_steps)  # fmt: skip
            for group in run.optimizer.param_groups:
                group["lr"] = lr
            loss, problem = _train_step(run, x, y)
            _account(run, loss, problem, int(y.shape[0]))
            elapsed = time.perf_counter() - tick
            run.train_time_s += elapsed
            window_images, window_s = window_images + int(y.shape[0]), window_s + elapsed
            bar.update(1)
            images_per_s = window_images / max(window_s, 1e-9)
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.3g}", img_s=f"{images_per_s:.0f}", refresh=False)
            if cfg.log_every_steps and run.step % cfg.log_every_steps == 0:
                record = {"kind": "train", "epoch": run.epoch, "loss": _finite_or_none(loss), "lr": lr}
                logger.log(run.step, {**record, "images_per_s": images_per_s})
                window_images, window_s = 0, 0.0
            if cfg.checkpoint_every_steps and run.step % cfg.checkpoint_every_steps == 0:
                save_checkpoint(out_dir / LAST_NAME, capture_state(run, logger.lines_written))
            tick = time.perf_counter()


def _train_step(run: RunState, x: torch.Tensor, y: torch.Tensor) -> tuple[float, str | None]:
    """One optimizer step. Returns ``(loss, problem)``; ``problem`` names what was non-finite, if anything.

    A non-finite step leaves the model exactly as it was: the optimizer is not stepped, grads are
    dropped, and buffers the forward pass changed (BN running stats, which a NaN input would
    poison for good) are put back.
    """
    world = distributed.current()
    rows = int(y.shape[0])
    x, y = world.shard((x, y), uneven=True)  # this rank's rows of the global batch (a last batch may be uneven)
    x, y = x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True)
    x = to_layout(x, run.channels_last)
    run.optimizer.zero_grad(set_to_none=True)
    buffers = [b.clone() for b in run.model.buffers()]  # BN stats are tiny next to the step itself
    with _autocast(run), synchronised(run.model, world):
        # Scaled by this shard's share, so that the ranks' average is the global batch's mean loss also when the
        # shards differ in size (1.0 for one process and for even shards).
        loss = _loss(run, x, y) * (world.size * int(y.shape[0]) / rows)
    # .item() syncs with the GPU once per step: the price of never stepping on a NaN. Under torchrun the
    # value is the global batch's mean, so a NaN on any rank skips the step on all of them.
    loss_value = world.mean(loss.item())
    if not math.isfinite(loss_value):
        _restore_buffers(run.model, buffers)
        return loss_value, "loss"
    run.scaler.scale(loss).backward()
    if run.cfg.grad_clip is not None:
        run.scaler.unscale_(run.optimizer)  # clip the true gradients, not the loss-scaled ones
        norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.cfg.grad_clip)
        # With an fp16 GradScaler, inf grads are routine (it probes the scale) and scaler.step skips them.
        if not torch.isfinite(norm) and not run.scaler.is_enabled():
            run.optimizer.zero_grad(set_to_none=True)
            _restore_buffers(run.model, buffers)
            return loss_value, "gradient norm"
    run.scaler.step(run.optimizer)
    run.scaler.update()
    return loss_value, None


@torch.no_grad()
def _restore_buffers(model: nn.Module, saved: list[torch.Tensor]) -> None:
    for buffer, value in zip(model.buffers(), saved):
        buffer.copy_(value)


def _loss(run: RunState, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Label-smoothed CE, or the KD mix with the teacher's logits when a teacher is given."""
    cfg = run.cfg
    logits = run.net(x)
    if run.teacher is None:
        return F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    soft = teacher_logits(run.teacher, x)
    return kd_loss(
        logits, soft, y, alpha=cfg.kd_alpha, temperature=cfg.kd_temperature, label_smoothing=cfg.label_smoothing
    )


def _account(run: RunState, loss: float, problem: str | None, batch_size: int) -> None:
    """Advance counters after a step; apply the non-finite policy or update the EMA."""
    where = f"step {run.step} (epoch {run.epoch}, batch {run.batch_in_epoch})"
    run.step += 1
    run.batch_in_epoch += 1
    run.images_seen += batch_size
    if problem is None:
        run.nonfinite_consecutive = 0
        run.epoch_loss_sum += loss
        run.epoch_loss_count += 1
        if run.ema is not None:
            run.ema.update(run.model)
        return
    run.nonfinite_consecutive += 1
    run.nonfinite_total += 1
    cfg = run.cfg
    if cfg.nonfinite_policy == "stop":
        raise NonFiniteLossError(
            f"non-finite {problem} (loss={loss}) at {where} and nonfinite_policy='stop'. "
            "Try a lower lr, grad_clip, or check the data for NaN/inf."
        )
    if run.nonfinite_consecutive >= cfg.max_nonfinite:
        raise NonFiniteLossError(
            f"{run.nonfinite_consecutive} consecutive non-finite steps (last: {problem}, loss={loss}) at {where}; "
            f"max_nonfinite={cfg.max_nonfinite}. Training diverged: lower lr, set grad_clip, or check the data."
        )
    log.warning(
        "non-finite %s (loss=%s) at %s: skipped the update (%d consecutive, aborting at %d)",
        problem, loss, where, run.nonfinite_consecutive, cfg.max_nonfinite,
    )  # fmt: skip


def _end_epoch(run: RunState, val_source: Any, logger: MetricsLogger, out_dir: Path) -> None:
    """Evaluate, log the epoch, and checkpoint (best.pt on improvement, always last.pt)."""
    if run.batch_in_epoch < run.steps_per_epoch:
        log.warning("train_source yielded %d of len()=%d batches in epoch %d",
                    run.batch_in_epoch, run.steps_per_epoch, run.epoch)  # fmt: skip
    world = distributed.current()
    world.check_replicated([*run.model.parameters(), *run.model.buffers()], "model weights and BN statistics")
    # Every rank evaluates the whole split: the replicas are identical, so they agree on best.pt without a message.
    val = evaluate(run.eval_model, val_source, run.device, amp_dtype=run.amp_dtype, channels_last=run.channels_last)
    improved = run.best_val_top1 is None or val["top1"] > run.best_val_top1
    if improved:
        run.best_val_top1 = val["top1"]
    run.last_val = val
    train_loss = run.epoch_loss_sum / run.epoch_loss_count if run.epoch_loss_count else None
    record = {"kind": "val", "epoch": run.epoch, "train_loss": train_loss, "val_top1": val["top1"],
              "val_top5": val["top5"], "val_loss": val["loss"], "best_val_top1": run.best_val_top1}
    logger.log(run.step, record)
    log.info("epoch %d/%d: train_loss %s val_top1 %.2f val_top5 %.2f val_loss %.4f",
             run.epoch + 1, run.cfg.epochs, train_loss, val["top1"], val["top5"], val["loss"])  # fmt: skip
    run.epoch, run.batch_in_epoch = run.epoch + 1, 0
    run.epoch_loss_sum, run.epoch_loss_count = 0.0, 0
    state = capture_state(run, logger.lines_written)
    # best.pt before last.pt: if we die in between, resume redoes this epoch end and rewrites best.pt.
    if improved:
        save_checkpoint(out_dir / BEST_NAME, state)
    save_checkpoint(out_dir / LAST_NAME, state)


def _final_metrics(run: RunState, test_source: Any) -> dict[str, Any]:
    """The summary written to metrics.json (accuracies in percent)."""
    if run.last_val is None:  # cannot happen with epochs >= 1; guards a future refactor
        raise RuntimeError("training finished without any evaluation")
    final = run.last_val
    if test_source is not None:
        final = evaluate(run.eval_model, test_source, run.device, amp_dtype=run.amp_dtype,
                         channels_last=run.channels_last)  # fmt: skip
    return {
        "top1": final["top1"],
        "top5": final["top5"],
        "loss": final["loss"],
        "evaluated_on": "test" if test_source is not None else "val",
        "val_top1": run.last_val["top1"],
        "best_val_top1": run.best_val_top1,
        "epochs": run.epoch,
        "steps": run.step,
        "wall_time_s": run.wall_time_s(),
        "images_per_s": run.images_seen / run.train_time_s if run.train_time_s > 0 else 0.0,
        "nonfinite_skipped": run.nonfinite_total,
        "ema": run.ema is not None,
    }


def _amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: mixed precision is CUDA-only and ignored (with one note) elsewhere."""
    if not cfg.amp:
        return None
    if device.type != "cuda":
        log.info("amp is CUDA-only; ignoring it on device %s", device)
        return None
    return torch.bfloat16 if cfg.amp_dtype == "bf16" else torch.float16


def _autocast(run: RunState) -> contextlib.AbstractContextManager:
    if run.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(run.device.type, dtype=run.amp_dtype)


def _cuda_indices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _seed_torch(seed: int, device: torch.device) -> None:
    """Seed the (forked) CPU RNG and, on CUDA, only the training device's RNG."""
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN


def _check_args(
    model: Any, train_source: Any, val_source: Any, test_source: Any, cfg: Any, teacher: Any
) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if teacher is not None and not isinstance(teacher, nn.Module):
        raise TypeError(f"teacher must be a torch.nn.Module or None, got {type(teacher).__name__}")
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    sources = {"train_source": train_source, "val_source": val_source, "test_source": test_source}
    for name, source in sources.items():
        if source is None and name == "test_source":
            continue
        if not (hasattr(source, "__len__") and callable(getattr(source, "epoch_batches", None))):
            raise ValueError(f"{name} must be a BatchSource with __len__() and epoch_batches(epoch, start)")
    if len(train_source) < 1:
        raise ValueError(f"train_source has len()={len(train_source)}; it must yield at least one batch")

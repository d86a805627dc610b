"""Training hyper-parameters as one validated dataclass.

Every field has a default that gives a sensible short proxy training run, so
a search can say ``TrainConfig(epochs=5)`` and get something reasonable. The
whole config is stored in each checkpoint (``to_dict``) so a resumed run can
check it continues the same experiment.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

OPTIMIZERS = ("sgd", "adamw")
AMP_DTYPES = ("bf16", "fp16")
NONFINITE_POLICIES = ("skip", "stop")


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (see field comments for the why)."""

    epochs: int = 10  # passes over train_source; NAS proxy runs are short
    optimizer: str = "sgd"  # "sgd" or "adamw" (Loshchilov & Hutter 2019, decoupled decay)
    lr: float = 0.1  # peak LR reached after warm-up; 0.1 is the classic SGD value at batch 256
    momentum: float = 0.9  # SGD momentum; for AdamW it is used as beta1 so one knob means "inertia"
    nesterov: bool = True  # Nesterov momentum (SGD only): same cost, usually a little better
    # L2 / decoupled weight decay, applied only to weight matrices and conv kernels. BN scales and
    # all biases are excluded: BN renormalises its input, so shrinking gamma only changes the
    # effective LR of the layer instead of regularising it, and biases are too few parameters to
    # overfit with but decaying them pulls activations towards zero and hurts accuracy.
    weight_decay: float = 4e-5  # MobileNet/FBNet-style value for small mobile networks
    warmup_epochs: float = 0.0  # linear LR warm-up length (fractional allowed); helps large batches (Goyal et al. 2017)
    min_lr: float = 0.0  # floor the cosine decays to (Loshchilov & Hutter 2017, SGDR without restarts)
    label_smoothing: float = 0.1  # Szegedy et al. 2016; regularises over-confident logits
    ema_decay: float | None = None  # weight EMA (e.g. 0.9998); None = off. Evaluation uses EMA weights when on
    kd_alpha: float = 0.5  # weight of the distillation term vs. CE (only used when a teacher is given)
    kd_temperature: float = 4.0  # softmax temperature for KD (Hinton et al. 2015); >1 exposes "dark knowledge"
    amp: bool = False  # mixed precision autocast; CUDA only, ignored (with one logged note) on CPU
    amp_dtype: str = "bf16"  # "bf16" (no loss scaling needed) or "fp16" (uses a GradScaler)
    # NHWC memory format for the weights and the batches, on any device: same values up to float rounding,
    # faster convs. None = where it was measured to win (the CPU; hwnas.train.layout), True/False = always/never.
    channels_last: bool | None = None
    grad_clip: float | None = None  # max global grad L2 norm; None = no clipping
    nonfinite_policy: str = "skip"  # on NaN/inf loss or grad norm: "skip" the step, or "stop" at once
    # The number of *consecutive* non-finite steps that aborts training under "skip": the first
    # max_nonfinite - 1 are skipped with a warning, the max_nonfinite-th raises NonFiniteLossError.
    # One bad batch is survivable; a run of them means the weights or the LR are broken.
    max_nonfinite: int = 10
    checkpoint_every_steps: int = 1000  # write last.pt every N optimizer steps (0 = only at epoch ends)
    seed: int = 0  # seeds the (forked) torch RNG used by dropout etc.; the caller's RNG is left untouched
    log_every_steps: int = 50  # JSONL/TensorBoard train record every N steps (0 = epoch records only)
    progress: bool = True  # tqdm bar per epoch
    tensorboard: bool = True  # also write TensorBoard scalars when the package is importable

    def __post_init__(self) -> None:
        _check_int(self, "epochs", minimum=1)
        _check_choice(self, "optimizer", OPTIMIZERS)
        _check_float(self, "lr", minimum=0.0, strict=True)
        _check_float(self, "momentum", minimum=0.0, maximum=1.0, max_strict=True)
        _check_bool(self, "nesterov")
        if self.optimizer == "sgd" and self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0 for SGD; set momentum or nesterov=False")
        _check_float(self, "weight_decay", minimum=0.0)
        _check_float(self, "warmup_epochs", minimum=0.0)
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs={self.warmup_epochs} exceeds epochs={self.epochs}")
        _check_float(self, "min_lr", minimum=0.0)
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr={self.min_lr} must be <= lr={self.lr}")
        _check_float(self, "label_smoothing", minimum=0.0, maximum=1.0, max_strict=True)
        if self.ema_decay is not None:
            _check_float(self, "ema_decay", minimum=0.0, maximum=1.0, strict=True, max_strict=True)
        _check_float(self, "kd_alpha", minimum=0.0, maximum=1.0)
        _check_float(self, "kd_temperature", minimum=0.0, strict=True)
        _check_bool(self, "amp")
        _check_choice(self, "amp_dtype", AMP_DTYPES)
        if self.channels_last is not None:
            _check_bool(self, "channels_last")
        if self.grad_clip is not None:
            _check_float(self, "grad_clip", minimum=0.0, strict=True)
        _check_choice(self, "nonfinite_policy", NONFINITE_POLICIES)
        _check_int(self, "max_nonfinite", minimum=1)
        _check_int(self, "checkpoint_every_steps", minimum=0)
        _check_int(self, "seed", minimum=0)
        _check_int(self, "log_every_steps", minimum=0)
        _check_bool(self, "progress")
        _check_bool(self, "tensorboard")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of builtins (safe for ``torch.load(weights_only=True)`` and JSON)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict``; unknown keys are an error rather than silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}; valid fields are {sorted(known)}")
        return cls(**values)


def _check_int(cfg: TrainConfig, name: str, *, minimum: int) -> None:
    value = getattr(cfg, name)
    # bool is a subclass of int; epochs=True is almost certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _check_float(
    cfg: TrainConfig,
    name: str,
    *,
    minimum: float,
    maximum: float | None = None,
    strict: bool = False,
    max_strict: bool = False,
) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and (value > maximum or (max_strict and value == maximum)):
        raise ValueError(f"{name} must be {'<' if max_strict else '<='} {maximum}, got {value}")


def _check_choice(cfg: TrainConfig, name: str, choices: tuple[str, ...]) -> None:
    value = getattr(cfg, name)
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def _check_bool(cfg: TrainConfig, name: str) -> None:
    value = getattr(cfg, name)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")

"""Fast path for small datasets: the whole set is one uint8 tensor on the target device.

Augmentation runs batched on the device (one gather does crop + flip for the
whole batch), so there are no worker processes and no per-sample Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from hwnas.data.sampling import (
    STREAM_AUGMENT,
    check_batch_size,
    check_seed,
    check_start,
    epoch_order,
    make_generator,
    num_batches,
)


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation: zero-pad, random crop, random horizontal flip.

    ``crop_size=None`` crops back to the input size (the CIFAR/MNIST recipe).
    """

    crop_size: int | None = None
    padding: int = 4
    flip: bool = True

    def __post_init__(self) -> None:
        if self.padding < 0:
            raise ValueError(f"AugmentConfig.padding must be >= 0, got {self.padding}")
        if self.crop_size is not None and self.crop_size <= 0:
            raise ValueError(f"AugmentConfig.crop_size must be positive or None, got {self.crop_size}")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the crops for ``height`` x ``width`` inputs; ValueError if they do not fit."""
        sh, sw = (self.crop_size, self.crop_size) if self.crop_size else (height, width)
        hp, wp = height + 2 * self.padding, width + 2 * self.padding
        if sh > hp or sw > wp:
            raise ValueError(
                f"crop_size {sh}x{sw} is larger than the padded {height}x{width} image ({hp}x{wp}); "
                "lower crop_size or raise padding"
            )
        return sh, sw


def normalize_stats(values: float | Sequence[float] | None, channels: int, default: float, what: str) -> torch.Tensor:
    """Per-channel statistics as a float32 tensor [1, C, 1, 1]."""
    if values is None:
        values = default
    vals = [float(values)] * channels if isinstance(values, (int, float)) else [float(v) for v in values]
    if len(vals) == 1:
        vals = vals * channels
    if len(vals) != channels:
        raise ValueError(f"{what} has {len(vals)} values but the images have {channels} channels")
    if what == "std" and min(vals) <= 0:
        raise ValueError(f"std values must be positive, got {vals}")
    return torch.tensor(vals, dtype=torch.float32).view(1, channels, 1, 1)


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 [B,C,H,W] -> float32 ``(x / 255 - mean) / std``, as one multiply-subtract."""
    scale = 1.0 / (255.0 * std)
    shift = mean / std
    return images.to(torch.float32).mul_(scale).sub_(shift)


def crop_flip(images: torch.Tensor, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor,
              size: int | tuple[int, int], padding: int) -> torch.Tensor:  # fmt: skip
    """Crop ``size`` windows (int or (height, width)) at (``top``, ``left``) of the zero-padded images.

    ``top``/``left`` are int64 [B] offsets into the padded image, ``flip`` bool [B].
    Crop and flip are one gather over flattened pixels: flipping is just
    reading the window's columns right to left.
    """
    b, c, h, w = images.shape
    sh, sw = (size, size) if isinstance(size, int) else size
    hp, wp = h + 2 * padding, w + 2 * padding
    if padding:
        padded = images.new_zeros((b, c, hp, wp))
        padded[:, :, padding : padding + h, padding : padding + w] = images
    else:
        padded = images
    row_steps = torch.arange(sh, device=images.device)
    col_steps = torch.arange(sw, device=images.device)
    rows = top.view(b, 1) + row_steps  # [B, sh]
    cols = left.view(b, 1) + torch.where(flip.view(b, 1), sw - 1 - col_steps, col_steps)  # [B, sw]
    flat = (rows.view(b, sh, 1) * wp + cols.view(b, 1, sw)).view(b, 1, sh * sw)
    out = padded.reshape(b, c, hp * wp).gather(2, flat.expand(b, c, sh * sw))
    return out.view(b, c, sh, sw)


def random_crop_flip(images: torch.Tensor, config: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Apply ``config`` to a uint8 batch with offsets and flips drawn from ``gen``."""
    b, _, h, w = images.shape
    sh, sw = config.output_size(h, w)
    hp, wp = h + 2 * config.padding, w + 2 * config.padding
    device = images.device
    # Draw order is fixed (top, left, flip) so results depend only on the generator state.
    top = torch.randint(0, hp - sh + 1, (b,), generator=gen, device=device)
    left = torch.randint(0, wp - sw + 1, (b,), generator=gen, device=device)
    flip = torch.rand(b, generator=gen, device=device) < 0.5
    if not config.flip:
        flip = torch.zeros_like(flip)
    if (sh, sw) == (h, w) and config.padding == 0:  # flip only: skip the gather
        return torch.where(flip.view(b, 1, 1, 1), images.flip(-1), images)
    return crop_flip(images, top, left, flip, (sh, sw), config.padding)


class TensorLoader:
    """Batches from an in-memory uint8 dataset, augmented and normalised on ``device``.

    Batch ``k`` of epoch ``e`` depends only on ``(seed, e, k)``, so
    ``epoch_batches(e, start=k)`` resumes an interrupted epoch exactly.
    ``augment=True`` means ``AugmentConfig()`` (zero-pad 4, crop back to the
    input size, flip); pass an :class:`AugmentConfig` for other recipes.
    ``mean``/``std`` default to 0/1, i.e. pixels scaled to [0, 1].
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *,
                 shuffle: bool = True, augment: bool | AugmentConfig = False,
                 mean: float | Sequence[float] | None = None, std: float | Sequence[float] | None = None,
                 seed: int = 0, drop_last: bool = False, device: str | torch.device = "cpu") -> None:  # fmt: skip
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be a uint8 tensor [N,C,H,W], got {images.dtype} {tuple(images.shape)}")
        if labels.dim() != 1 or len(labels) != len(images):
            raise ValueError(f"labels must be 1-D with {len(images)} entries, got shape {tuple(labels.shape)}")
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device, torch.int64)
        self.batch_size = check_batch_size(batch_size)
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, check_seed(seed)
        self.augment = AugmentConfig() if augment is True else (augment or None)
        if self.augment is not None:
            self.augment.output_size(*images.shape[2:])  # fail now, not at the first batch
        channels = images.shape[1]
        self.mean = normalize_stats(mean, channels, 0.0, "mean").to(self.device)
        self.std = normalize_stats(std, channels, 1.0, "std").to(self.device)

    @property
    def num_samples(self) -> int:
        return len(self.images)

    def __len__(self) -> int:
        return num_batches(len(self.images), self.batch_size, self.drop_last)

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x float [B,C,H',W'], y int64 [B])`` for batches ``start..len-1`` of ``epoch``."""
        # Validate now, not at the first next(): a bad resume point should fail at the call.
        check_start(start, len(self))
        order = epoch_order(len(self.images), shuffle=self.shuffle, seed=self.seed, epoch=epoch)
        return self._batches(epoch, order.to(self.device), start)

    def _batches(self, epoch: int, order: torch.Tensor, start: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for k in range(start, len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            x = self.images.index_select(0, idx)
            if self.augment is not None:
                gen = make_generator(self.seed, STREAM_AUGMENT, epoch, k, device=self.device)
                x = random_crop_flip(x, self.augment, gen)
            yield normalize(x, self.mean, self.std), self.labels.index_select(0, idx)

"""PIL image transforms for ImageNet-style data: resize, crops, flip, to uint8 tensor.

Randomness comes from a ``torch.Generator`` passed in by the caller, so the
same (sample, seed) always yields the same crop.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

# ImageNet eval convention: resize the short side to size / 0.875, centre-crop size.
EVAL_CROP_FRACTION = 0.875


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    """Resize so the shorter side is ``size``, keeping the aspect ratio."""
    w, h = img.size
    if min(w, h) == size:
        return img
    if w <= h:
        new = (size, max(1, round(h * size / w)))
    else:
        new = (max(1, round(w * size / h)), size)
    return img.resize(new, Image.BILINEAR)


def center_crop(img: Image.Image, size: int) -> Image.Image:
    """Crop the central ``size`` x ``size`` square (zero-padding if the image is smaller)."""
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def eval_transform(img: Image.Image, size: int, resize_size: int | None = None) -> Image.Image:
    """Deterministic eval view: resize the short side, then centre-crop ``size``."""
    resize_size = resize_size or round(size / EVAL_CROP_FRACTION)
    return center_crop(resize_short_side(img, resize_size), size)


def _uniform(gen: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def random_resized_crop_box(
    width: int,
    height: int,
    gen: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    attempts: int = 10,
) -> tuple[int, int, int, int]:
    """A random (left, top, right, bottom) box covering ``scale`` of the area at aspect ``ratio``.

    Rejection sampling; after ``attempts`` misses falls back to the largest
    centred box whose aspect ratio lies inside ``ratio``.
    """
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(attempts):
        target = area * _uniform(gen, *scale)
        aspect = math.exp(_uniform(gen, log_lo, log_hi))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(torch.randint(0, width - w + 1, (), generator=gen))
            top = int(torch.randint(0, height - h + 1, (), generator=gen))
            return left, top, left + w, top + h
    aspect = width / height
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    left, top = (width - w) // 2, (height - h) // 2
    return left, top, left + w, top + h


def train_transform(
    img: Image.Image,
    size: int,
    gen: torch.Generator,
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = True,
) -> Image.Image:
    """Random-resized-crop to ``size`` x ``size``, then a random horizontal flip."""
    box = random_resized_crop_box(img.size[0], img.size[1], gen, scale, ratio)
    out = img.resize((size, size), Image.BILINEAR, box=box)
    if flip and float(torch.rand((), generator=gen)) < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    return out


def to_uint8_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image -> uint8 tensor [C, H, W] (C = 1 for grayscale)."""
    array = np.array(img, dtype=np.uint8)  # a writable copy; torch warns on read-only arrays
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()

"""Spec-to-spec transforms that adapt a network to a dataset (no torch)."""

from __future__ import annotations

import dataclasses
import math

from hwnas.arch.resolve import feature_sizes, make_divisible
from hwnas.arch.spec import ArchSpec

MIN_FINAL_MAP = 2
"""Smallest final feature map (pixels per side) that the small-input adaptation keeps."""


def _without_first_downsampling(spec: ArchSpec) -> ArchSpec | None:
    """The spec with its first stride-2 (stem, else the earliest strided block) set to stride 1, or None."""
    if spec.stem.stride == 2:
        return dataclasses.replace(spec, stem=dataclasses.replace(spec.stem, stride=1))
    stages = [list(stage) for stage in spec.stages]
    for stage in stages:
        for i, block in enumerate(stage):
            # A ShuffleNetV2 stride-2 block is the only place its stage widens, so its stride stays.
            if block.stride == 2 and not block.kind.keeps_downsampling:
                stage[i] = dataclasses.replace(block, stride=1)
                return dataclasses.replace(spec, stages=tuple(tuple(s) for s in stages))
    return None


def final_map_size(spec: ArchSpec, input_size: int) -> int:
    stem, sizes = feature_sizes(spec, input_size)
    return sizes[-1][1] if sizes else stem


def for_input_size(spec: ArchSpec, input_size: int, min_final_map: int = MIN_FINAL_MAP) -> ArchSpec:
    """Adapt an ImageNet (224-px) network to small inputs by removing its earliest downsamplings.

    A 224-px network downsamples 32x, which leaves a 1x1 map on 28-px Fashion-MNIST or 32-px CIFAR. As in the
    CIFAR adaptations of MobileNet-style networks and the FBNet CIFAR-10 reproduction, we keep blocks and widths and
    set the stem, then the earliest strided blocks, to stride 1 until the final map is at least ``min_final_map``
    pixels (28 px: stem at stride 1, total stride 16, a 2x2 final map). Inputs that already end on a large enough
    map (64 px and up at the default) are returned unchanged.
    """
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input size must be a positive integer, got {input_size!r}")
    if isinstance(min_final_map, bool) or not isinstance(min_final_map, int) or min_final_map < 1:
        raise ValueError(f"min_final_map must be a positive integer, got {min_final_map!r}")
    while final_map_size(spec, input_size) < min(min_final_map, input_size):
        adapted = _without_first_downsampling(spec)
        if adapted is None:
            break
        spec = adapted
    return spec


def scale_width(spec: ArchSpec, multiplier: float, divisor: int = 8) -> ArchSpec:
    """Every channel count of ``spec`` times ``multiplier``, rounded to a multiple of ``divisor``.

    The width multiplier of MobileNetV1/V2 (Howard et al. 2017, Sec. 3.2; Sandler et al. 2018, Sec. 5.1) and the
    ``round_chs`` rule of their reference code (:func:`hwnas.arch.resolve.make_divisible`). Unlike MobileNetV2,
    which keeps its 1280-wide last conv below 1.0x, the head is scaled too: on small inputs that conv is a large
    share of the latency, and a reference network scaled to a tight budget must be able to shrink it. Expansion
    ratios and SPOS mid scales are relative and carry over; explicit mid and SE widths scale with the rest.
    Grouped blocks keep widths their groups divide (a multiple of ``divisor * groups``).
    """
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or not multiplier > 0:
        raise ValueError(f"width multiplier must be a positive number, got {multiplier!r}")

    def scaled(channels: int | None, groups: int = 1) -> int | None:
        if channels is None:
            return None
        return make_divisible(channels * multiplier, divisor * groups)

    stages = tuple(
        tuple(dataclasses.replace(b, out=scaled(b.out, b.groups), mid=scaled(b.mid, b.groups),
                                  se_channels=scaled(b.se_channels)) for b in stage)
        for stage in spec.stages
    )
    head = dataclasses.replace(spec.head, features=scaled(spec.head.features))
    return dataclasses.replace(spec, stem=dataclasses.replace(spec.stem, out=scaled(spec.stem.out)), stages=stages,
                               head=head)


def scale_depth(spec: ArchSpec, multiplier: float) -> ArchSpec:
    """Every block's repeats times ``multiplier``, rounded up (at least one): the depth coefficient of compound
    scaling (EfficientNet, Tan & Le 2019, Eq. 3; ``ceil(d * repeats)`` as in its reference code)."""
    if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or not multiplier > 0:
        raise ValueError(f"depth multiplier must be a positive number, got {multiplier!r}")
    stages = tuple(tuple(dataclasses.replace(b, repeats=max(1, math.ceil(b.repeats * multiplier))) for b in stage)
                   for stage in spec.stages)
    return dataclasses.replace(spec, stages=stages)

"""Spec-to-spec transforms that adapt a network to a dataset (no torch)."""

from __future__ import annotations

import dataclasses

from hwnas.arch.resolve import feature_sizes
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
            if block.stride == 2 and block.type not in ("shuffle", "xception"):
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

"""Macro-architecture helpers shared by the spaces: width scaling, the small-input stride rule, slot rows.

The small-input rule is the one :func:`hwnas.arch.for_input_size` applies to a finished network, restated on a
space's list of strides so that a space built for 28 px *is* the small-input macro-architecture (its choices map
straight to the specs that are trained, and a supernet is built at the strides it will run at). The rule: while
the final feature map is smaller than ``min(MIN_FINAL_MAP, input_size)`` (2x2), set the stem to stride 1, then the
earliest stride-2 position that may be relaxed. ShuffleNetV2 stride-2 units may not (they are where a stage
widens). A 224-px macro that downsamples 32x thus runs at total stride 16 on 28- or 32-px inputs and ends on a 2x2
map; inputs of 64 px and up are left alone. ``tests/space`` checks that the two formulations agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from hwnas.arch import BlockSpec, block_kind, kind_names, make_divisible
from hwnas.arch.transform import MIN_FINAL_MAP
from hwnas.space.base import SearchSpace, Slot
from hwnas.space.labels import slot_label



def keeps_downsampling(type_name: str) -> bool:
    """Whether blocks of type ``type_name`` keep their stride 2 on small inputs (ShuffleNetV2 units: that is where
    their stage widens; see the module docstring). ``False`` for a name that is not a block type."""
    return type_name in kind_names() and block_kind(type_name).keeps_downsampling


def scale_channels(channels: int, width_mult: float) -> int:
    """``make_divisible(c * w, 8)`` (the MobileNetV2 width-multiplier rule); ``w == 1`` leaves ``c`` unchanged.

    Leaving ``c`` alone at ``w == 1`` keeps user-defined (YAML) widths that are not multiples of 8 exact.
    """
    return channels if width_mult == 1.0 else make_divisible(channels * width_mult, 8)


def final_map(input_size: int, strides: Sequence[int]) -> int:
    """Side of the last feature map after convs with 'same' padding at these strides (``ceil(size / s)``)."""
    size = input_size
    for s in strides:
        size = math.ceil(size / s)
    return size


def small_input_strides(input_size: int, strides: Sequence[int], fixed: Sequence[bool] | None = None) -> list[int]:
    """Adapt the downsampling positions of a macro-architecture (stem first, in network order) to ``input_size``.

    ``fixed[i]`` marks a position whose stride 2 must stay (ShuffleNetV2 units); the stem is never fixed. Returns
    the new strides; unchanged when the final map is already at least ``min(MIN_FINAL_MAP, input_size)``.
    """
    out = list(strides)
    fixed = list(fixed) if fixed is not None else [False] * len(out)
    if len(fixed) != len(out):
        raise ValueError(f"{len(fixed)} fixed flags for {len(out)} strides")
    while final_map(input_size, out) < min(MIN_FINAL_MAP, input_size):
        relax = next((i for i, s in enumerate(out) if s == 2 and (i == 0 or not fixed[i])), None)
        if relax is None:  # nothing left to relax: the input is smaller than the network can serve
            break
        out[relax] = 1
    return out


Candidates = Callable[[int, int, int], dict[str, BlockSpec]]
"""(in channels, out channels, stride) -> candidate name -> block, in order (the heaviest last)."""


def stage_slots(stage: int, in_ch: int, out: int, n: int, stride: int, candidates: Candidates,
                widths: Callable[[int], tuple] | None = None, min_depth: int | None = None) -> tuple[Slot, ...]:
    """The ``n`` slots of one searchable stage: the first takes ``in_ch`` at ``stride``, the rest ``out`` at 1.

    ``widths(in_ch)`` gives an elastic slot's width values; with ``min_depth``, slots at index ``>= min_depth``
    are optional (removable by the stage's depth dimension).
    """
    slots = []
    for j in range(n):
        cin, s = (in_ch, stride) if j == 0 else (out, 1)
        slots.append(Slot(label=slot_label(stage, j), stage=stage, index=j, in_ch=cin, out_ch=out, stride=s,
                          candidates=candidates(cin, out, s), widths=widths(cin) if widths else None,
                          optional=min_depth is not None and j >= min_depth))
    return tuple(slots)


def checked(space: SearchSpace) -> SearchSpace:
    """Build the lightest and the heaviest network once, so that a geometry the macro cannot take (say a
    ``width_mult`` so small that a ShuffleNetV2 stage no longer widens) fails when the space is made."""
    try:
        space.to_spec(space.heaviest())
        space.to_spec({d.label: d.values[0] for d in space.dims()})
    except ValueError as e:
        raise ValueError(f"space {space.name!r} at width_mult {space.geometry.width_mult}: {e}") from None
    return space

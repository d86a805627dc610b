"""The Single Path One-Shot search space (Guo et al. 2019): a ShuffleNetV2 supernet with block and channel search.

Fixed: a 3x3 stem of 16 channels at stride 2 with ReLU, a final 1x1 conv-BN-ReLU of 1024 channels, pooling,
dropout 0.1 and a classifier without bias (megvii ``SinglePathOneShot`` network.py). Searched: 20 choice blocks in
four stages of (4, 4, 8, 4) blocks with out channels (64, 160, 320, 640), the first block of each stage at stride 2.
Each block picks

* an operation (``s{i}_b{j}_op``): a ShuffleNetV2 unit with a 3x3, 5x5 or 7x7 depthwise branch, or the
  Xception-like unit (three 3x3 depthwise convs), in SPOS choice-index order ``shuffle3, shuffle5, shuffle7,
  xception`` (Xception is the heaviest, so it is last);
* a channel scale (``s{i}_b{j}_width``): the float ``w`` in (0.2, 0.4, ..., 2.0), the mid width being
  ``int(out // 2 * w)`` (paper Sec. 4.2 searches 0.2..1.6; the 2.0 extension follows CanyonWind's SPOS-MXNet and
  keeps every released network's ids valid).

Size: 4**20 * 10**20.

Small inputs (below 64 px): the stem runs at stride 1 (a ShuffleNetV2 stride-2 unit is where a stage widens, so
those strides stay; :mod:`hwnas.space.macro`); on 28 or 32 px the final map is 2x2. ``width_mult`` scales the
stem, stage and final conv widths with ``make_divisible(c * w, 8)``; it must leave every stage wider than the one
before (ShuffleNetV2 stride-2 units concatenate their input).
"""

from __future__ import annotations

from hwnas.arch import HeadSpec, StemSpec, decode_block
from hwnas.space.base import SearchSpace, check_geometry
from hwnas.space.macro import checked, scale_channels, small_input_strides, stage_slots

SPOS_STAGES = ((64, 4), (160, 4), (320, 8), (640, 4))
"""(out channels, blocks) of the four searchable stages; each starts at stride 2."""
SPOS_OPS = {"shuffle3": "shuffle_r1_k3", "shuffle5": "shuffle_r1_k5", "shuffle7": "shuffle_r1_k7",
            "xception": "xception_r1_k3"}
"""SPOS choice ids 0-3, in order."""
SPOS_SCALES = tuple(round(0.2 * i, 1) for i in range(1, 11))  # round() makes 0.6 the literal 0.6, etc.


def _candidates(in_ch: int, out: int, stride: int) -> dict:
    # Written at the largest scale; the width dimension replaces `w` (SearchSpace.block_for).
    return {name: decode_block(f"{prefix}_s{stride}_c{out}_w{SPOS_SCALES[-1]}") for name, prefix in SPOS_OPS.items()}


def spos_space(input_size: int = 224, in_channels: int = 3, num_classes: int = 1000,
               width_mult: float = 1.0) -> SearchSpace:
    """The SPOS space for this geometry (the official and block+channel search results are members at 224 px)."""
    geometry = check_geometry(input_size, in_channels, num_classes, width_mult)
    n_stages = len(SPOS_STAGES)
    stem_stride, *strides = small_input_strides(input_size, [2] * (1 + n_stages), fixed=[False] + [True] * n_stages)
    stem = scale_channels(16, width_mult)
    stages, in_ch = [], stem
    for i, ((out, n), stride) in enumerate(zip(SPOS_STAGES, strides)):
        out = scale_channels(out, width_mult)
        stages.append(stage_slots(i, in_ch, out, n, stride, _candidates, widths=lambda _: SPOS_SCALES))
        in_ch = out
    space = SearchSpace(
        name="spos", geometry=geometry, stem=StemSpec(out=stem, stride=stem_stride), slots_by_stage=tuple(stages),
        head=HeadSpec(dropout=0.1, fc_bias=False), act="re", se_mode="in",
        suffix=((decode_block(f"cn_r1_k1_s1_c{scale_channels(1024, width_mult)}"),),),
        description="SPOS (Guo et al. 2019): ShuffleNetV2, 20 blocks x 4 ops x 10 channel scales",
    )
    return checked(space)

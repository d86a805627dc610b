"""The HardCoRe-NAS search space (Nayman et al. 2021), a MobileNetV3-Large-like macro-architecture.

Fixed: a 3x3 stem of 32 channels at stride 2 with hard-swish, a first stage ``ds_r1_k3_s1_e1_c16_nre``, a final
``cn_r1_k1_s1_c960`` and a MobileNetV3 head (pool, 1x1 conv to 1280 with hard-swish, classifier). Searched: five
stages of out channels 24, 40, 80, 112, 192 with first strides 2, 2, 2, 1, 2; ReLU in the first two, hard-swish
after, as in the released A-F strings (timm ``hardcorenas.py``). Each stage has 2-4 blocks (the paper's b in
[2, 4]): blocks 0 and 1 are always there, blocks 2 and 3 are optional (depth dimension ``s{i}_depth`` in
{2, 3, 4}). Each block is one of 12 inverted residuals, kernel {3, 5} x expansion {3, 4, 6} x SE {none, 0.25}
(MobileNetV3 SE: width ``make_divisible(mid / 4, 8)``, ReLU, hard-sigmoid, i.e. ``se_mode="exp"``). These are the
configurations the released networks use (HardCoReNAS ``mobilenasnet.py``, ``EXP_RATIO=[3, 4, 6]`` with
``DW_K_SIZE=[3, 5]`` and ``SE_RATIO=[0, 0.25]``). Size: (12**4 * 3)**5 = 12**20 * 3**5.

Candidates are ordered expansion-major, then kernel, then SE, so ``k5_e6_se`` (the heaviest) comes last.

Small inputs (below 64 px): the stem, then the earliest stride-2 stages run at stride 1 until the final map is at
least 2x2 (:mod:`hwnas.space.macro`). ``width_mult`` scales every channel count, head included.
"""

from __future__ import annotations

from hwnas.arch import HeadSpec, StemSpec, decode_block
from hwnas.space.base import SearchSpace, check_geometry
from hwnas.space.macro import checked, scale_channels, small_input_strides, stage_slots

HARDCORE_STAGES = ((24, 2, "re"), (40, 2, "re"), (80, 2, None), (112, 1, None), (192, 2, None))
"""(out, first stride, activation; None = the network's hard-swish) of the five searchable stages."""
HARDCORE_CONFIGS = tuple((k, e, se) for e in (3, 4, 6) for k in (3, 5) for se in (False, True))
MAX_BLOCKS = 4
MIN_BLOCKS = 2


def _candidates_for(act: str | None):
    def candidates(in_ch: int, out: int, stride: int) -> dict:
        nact = f"_n{act}" if act else ""
        return {f"k{k}_e{e}" + ("_se" if se else ""):
                decode_block(f"ir_r1_k{k}_s{stride}_e{e}_c{out}{nact}" + ("_se0.25" if se else ""))
                for k, e, se in HARDCORE_CONFIGS}
    return candidates


def hardcore_space(input_size: int = 224, in_channels: int = 3, num_classes: int = 1000,
                   width_mult: float = 1.0) -> SearchSpace:
    """The HardCoRe-NAS space for this geometry (its A-F networks are members at 224 px)."""
    geometry = check_geometry(input_size, in_channels, num_classes, width_mult)
    stem_stride, *strides = small_input_strides(input_size, [2, *(s for _, s, _ in HARDCORE_STAGES)])

    def c(channels: int) -> int:
        return scale_channels(channels, width_mult)

    in_ch = c(16)
    stages = []
    for i, ((out, _, act), stride) in enumerate(zip(HARDCORE_STAGES, strides)):
        stages.append(stage_slots(i, in_ch, c(out), MAX_BLOCKS, stride, _candidates_for(act), min_depth=MIN_BLOCKS))
        in_ch = c(out)
    space = SearchSpace(
        name="hardcore", geometry=geometry, stem=StemSpec(out=c(32), stride=stem_stride),
        slots_by_stage=tuple(stages), head=HeadSpec(features=c(1280)), act="hs", se_mode="exp",
        prefix=((decode_block(f"ds_r1_k3_s1_e1_c{c(16)}_nre"),),),
        suffix=((decode_block(f"cn_r1_k1_s1_c{c(960)}"),),),
        min_depth={i: MIN_BLOCKS for i in range(len(stages))},
        description="HardCoRe-NAS (Nayman et al. 2021): 5 stages x 2-4 blocks x 12 MBConv configs",
    )
    return checked(space)

"""The FBNet search space (Wu et al., CVPR 2019, Tables 1-2).

Macro-architecture (Table 1): a 3x3 stem conv of 16 channels at stride 2, then 22 searchable layers in seven
stages of (out, layers, first stride) = (16, 1, 1), (24, 4, 2), (32, 4, 2), (64, 4, 2), (112, 4, 1), (184, 4, 2),
(352, 1, 1), then a 1x1 conv-BN-ReLU head of ``head_width`` channels, global pooling and the classifier. Table 1
gives the head as "1504 (1984)": FBNet-B and -C use 1984 (the default here), FBNet-A, -iPhoneX and -S8 use 1504,
so the head width is a parameter.

Each layer picks one of the 9 candidates of Table 2: inverted residuals (pw-always, ReLU, no SE) with kernel 3 or 5,
expansion 1, 3 or 6, and group 2 on the 1x1 convs for the e1 variants, or ``skip`` (identity; a 1x1 projection
where the shape changes). 9 ** 22 ~ 1e21 architectures. Candidates are ordered from light to heavy, ``skip`` first
and ``k5_e6`` last, so that :meth:`~hwnas.space.SearchSpace.heaviest` is the largest network.

Small inputs (below 64 px): the stem, then the earliest stride-2 stages run at stride 1 until the final map is at
least 2x2 (the rule of :func:`hwnas.arch.for_input_size`, see :mod:`hwnas.space.macro`); on 28 or 32 px only the
stem changes. ``width_mult`` scales every channel count (stem, stages, head) with ``make_divisible(c * w, 8)``.
"""

from __future__ import annotations

from hwnas.arch import HeadSpec, StemSpec, decode_block
from hwnas.space.base import SearchSpace, check_geometry
from hwnas.space.macro import checked, scale_channels, small_input_strides, stage_slots
from hwnas.zoo import FBNET_CANDIDATES, FBNET_STAGES, fbnet_block

FBNET_ORDER = ("skip", "k3_e1_g2", "k5_e1_g2", "k3_e1", "k5_e1", "k3_e3", "k5_e3", "k3_e6", "k5_e6")
"""Table 2's candidates, lightest first (their blocks are defined once, in :data:`hwnas.zoo.FBNET_CANDIDATES`)."""
assert set(FBNET_ORDER) == set(FBNET_CANDIDATES)

FBNET_STEM = 16
FBNET_HEAD = 1984


def _candidates(in_ch: int, out: int, stride: int) -> dict:
    return {op: decode_block(fbnet_block(op, out, stride)) for op in FBNET_ORDER}


def fbnet_space(input_size: int = 224, in_channels: int = 3, num_classes: int = 1000, width_mult: float = 1.0,
                head_width: int = FBNET_HEAD) -> SearchSpace:
    """The FBNet space for this geometry; ``head_width`` 1504 gives the space of FBNet-A/-iPhoneX/-S8."""
    geometry = check_geometry(input_size, in_channels, num_classes, width_mult)
    if isinstance(head_width, bool) or not isinstance(head_width, int) or head_width < 1:
        raise ValueError(f"head_width must be a positive integer, got {head_width!r}")
    stem_stride, *strides = small_input_strides(input_size, [2, *(s for _, _, s in FBNET_STAGES)])
    stem = scale_channels(FBNET_STEM, width_mult)
    stages, in_ch = [], stem
    for i, ((out, n, _), stride) in enumerate(zip(FBNET_STAGES, strides)):
        out = scale_channels(out, width_mult)
        stages.append(stage_slots(i, in_ch, out, n, stride, _candidates))
        in_ch = out
    head = scale_channels(head_width, width_mult)
    space = SearchSpace(
        name="fbnet", geometry=geometry, stem=StemSpec(out=stem, stride=stem_stride), slots_by_stage=tuple(stages),
        head=HeadSpec(), act="re", se_mode="in", suffix=((decode_block(f"cn_r1_k1_s1_c{head}"),),),
        description=f"FBNet (Wu et al. 2019, Tables 1-2): 22 layers x 9 candidates, head {head_width}",
    )
    return checked(space)

"""The TF-NAS search space (Hu et al., ECCV 2020; AberHu/TF-NAS ``models/model_search.py``).

Fixed: a 3x3 stem of 32 channels at stride 2 with ReLU, a second stem (a 3x3 depthwise-separable block to 16
channels with an 8-channel SE, ReLU; ``ds`` here, as it has no expansion conv), a final 1x1 conv-BN-swish of 1280
channels, pooling and the classifier. Searched: six stages of (out, first stride, blocks) = (24, 2, 2) with ReLU,
then (40, 2, 3), (80, 2, 4), (112, 1, 4), (192, 2, 4), (320, 1, 1) with swish, and per block three decisions:

* **operation** (``s{i}_b{j}_op``): one of 8 MBConv primitives, kernel {3, 5} x nominal expansion {3, 6} x SE
  {no, yes}; a TF-NAS SE is ``in_ch`` wide for e3 and ``2 * in_ch`` for e6 (written as an explicit ``sec``),
  with the block's activation and a sigmoid gate;
* **width** (``s{i}_b{j}_width``): the mid width of the chosen operation, elasticity scaling (Sec. 3.3). *Rule*:
  the value is the absolute mid width, an integer in ``[in_ch, 8 * in_ch]``. Each operation has its own largest
  width, TF-NAS's mask (``model_search.py``): ``4 * in_ch`` for e3 and ``8 * in_ch`` for e6 (4/3 of the nominal
  ``3 * in_ch`` and ``6 * in_ch``); each candidate is written at it, and a value above it is that largest width
  (:meth:`~hwnas.space.SearchSpace.block_for`), so an e3 and an e6 op differ in width as in TF-NAS and meet only
  at ``4 * in_ch``. A TF-NAS search gives every operation of a slot its own width, starting at its nominal
  ``e * in_ch`` (:func:`hwnas.search.parts.width_scaling.op_widths`). ``size()`` counts every (op, width) pair,
  an upper bound as for dropped slots. TF-NAS-A's mids (83, 128, 138, 297, ..., 1370) all lie in the e6 ranges;
* **depth** (``s{i}_depth``): sink-connecting search (Sec. 3.2): a stage may end after any block, keeping >= 1.

Candidates are ordered e3 before e6, k3 before k5, no SE before SE: ``k5_e6_se`` at ``8 * in_ch`` with every
block kept is :meth:`~hwnas.space.SearchSpace.heaviest`.

Small inputs (below 64 px): the stem, then the earliest stride-2 stages run at stride 1 until the final map is at
least 2x2 (:mod:`hwnas.space.macro`). ``width_mult`` scales every channel count (including the SE widths, which
follow the scaled ``in_ch``) with ``make_divisible(c * w, 8)``.
"""

from __future__ import annotations

from hwnas.arch import HeadSpec, StemSpec, decode_block
from hwnas.space.base import SearchSpace, check_geometry
from hwnas.space.macro import checked, scale_channels, small_input_strides, stage_slots

TFNAS_STAGES = ((24, 2, 2, "re"), (40, 2, 3, None), (80, 2, 4, None), (112, 1, 4, None), (192, 2, 4, None),
                (320, 1, 1, None))
"""(out, first stride, blocks, activation; None = the network's swish) of the six searchable stages."""
TFNAS_PRIMITIVES = tuple((k, e, se) for e in (3, 6) for k in (3, 5) for se in (False, True))
MAX_MID_RATIO = 8  # elastic widths reach 4/3 of the nominal e6 width: 8 * in_ch


def largest_mid(exp: int, in_ch: int) -> int:
    """An op's largest mid width, TF-NAS's channel mask: 4/3 of its nominal ``exp * in_ch`` (4 or 8 x in_ch)."""
    return MAX_MID_RATIO * in_ch * exp // 6


def tfnas_widths(in_ch: int) -> tuple[int, ...]:
    """Every mid width an elastic slot with ``in_ch`` input channels may take: ``in_ch .. 8 * in_ch``."""
    return tuple(range(in_ch, MAX_MID_RATIO * in_ch + 1))


def _candidates_for(act: str | None):
    def candidates(in_ch: int, out: int, stride: int) -> dict:
        nact = f"_n{act}" if act else ""
        return {f"k{k}_e{e}" + ("_se" if se else ""):
                decode_block(f"ir_r1_k{k}_s{stride}_e{e}_c{out}_m{largest_mid(e, in_ch)}{nact}"
                             + (f"_sec{in_ch * e // 3}" if se else ""))
                for k, e, se in TFNAS_PRIMITIVES}
    return candidates


def tfnas_space(input_size: int = 224, in_channels: int = 3, num_classes: int = 1000,
                width_mult: float = 1.0) -> SearchSpace:
    """The TF-NAS space for this geometry (TF-NAS-A is a member at 224 px)."""
    geometry = check_geometry(input_size, in_channels, num_classes, width_mult)
    stem_stride, *strides = small_input_strides(input_size, [2, *(s for _, s, _, _ in TFNAS_STAGES)])

    def c(channels: int) -> int:
        return scale_channels(channels, width_mult)

    in_ch = c(16)
    stages = []
    for i, ((out, _, n, act), stride) in enumerate(zip(TFNAS_STAGES, strides)):
        stages.append(stage_slots(i, in_ch, c(out), n, stride, _candidates_for(act), widths=tfnas_widths,
                                  min_depth=1 if n > 1 else None))
        in_ch = c(out)
    space = SearchSpace(
        name="tfnas", geometry=geometry, stem=StemSpec(out=c(32), stride=stem_stride, act="re"),
        slots_by_stage=tuple(stages), head=HeadSpec(), act="sw", se_mode="in",
        prefix=((decode_block(f"ds_r1_k3_s1_e1_c{c(16)}_nre_sec{c(8)}"),),),
        suffix=((decode_block(f"cn_r1_k1_s1_c{c(1280)}"),),),
        min_depth={i: 1 for i, (_, _, n, _) in enumerate(TFNAS_STAGES) if n > 1},
        description="TF-NAS (Hu et al. 2020): 6 stages, 8 MBConv ops, elastic mid widths, sink-connecting depth",
    )
    return checked(space)

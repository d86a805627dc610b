"""The HardCoRe-NAS / timm list form of a network, read into an :class:`~hwnas.arch.spec.ArchSpec`.

HardCoRe-NAS writes its searched networks as one Python list of stages, each a list of timm block strings::

    [['ds_r1_k3_s1_e1_c24_nre'], ['ir_r1_k5_s2_e3_c32_nre_se0.25', ...], ..., ['cn_r1_k1_s1_c1152']]

and builds them with timm's MobileNetV3 builder (``_gen_hardcorenas``): a 3x3 stride-2 stem of 32 channels,
hard-swish as the network's activation, squeeze-excite on the expanded width with a ReLU inside and a hard-sigmoid
gate (hwnas ``se=exp``), and a MobileNetV3 head (pooling, a 1x1 conv of 1280 with bias and activation, the
classifier): :data:`HARDCORE`. Options written before the list override them, e.g.
``act=re se=in stem=stem_k3_s2_c16 head=head [['ds_r1_k3_s1_e1_c16'], ...]``.

The blocks become the network timm builds from them, which rounds channel counts where the hwnas text form takes
them literally (docs/ARCHITECTURES.md): every output width ``c`` to ``make_divisible(c, 8)``, an ``ir`` block's
expanded width to ``make_divisible(in * e, 8)`` (written as an explicit ``m`` where it differs from
``round(in * e)``). Repeats are written out one block each, as an explicit mid width can differ between the first
repeat and the others. Pure Python, no torch.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from hwnas.arch.codec import decode, decode_block
from hwnas.arch.resolve import make_divisible
from hwnas.arch.spec import ArchSpec

TIMM_DIVISOR = 8  # timm's round_channels: every width a multiple of 8, never below 90 % of the asked one


@dataclass(frozen=True)
class ListFormDefaults:
    """The parts of a network the list form does not write (hwnas text segments and options)."""

    act: str = "hs"
    se: str = "exp"
    stem: str = "stem_k3_s2_c32"
    head: str = "head_c1280"


HARDCORE = ListFormDefaults()
"""HardCoRe-NAS's conventions (timm ``hardcorenas_*``: stem 32, hard-swish, SE on the expanded width, head 1280)."""

OPTION_KEYS = ("act", "se", "stem", "head")


def is_list_form(text: str) -> bool:
    """Whether ``text`` is written in the list form (optional ``key=value`` options, then ``[[...]]``)."""
    text = text.strip()
    return "|" not in text and text.endswith("]") and "[[" in text.replace(" ", "")


def decode_list_form(text: str, defaults: ListFormDefaults = HARDCORE) -> ArchSpec:
    """The network timm's HardCoRe-NAS builder makes from the list form ``text`` (see the module docstring)."""
    text = text.strip()
    if "[" not in text:
        raise ValueError("a list-form architecture is a list of stages, each a list of block strings: "
                         "[['ds_r1_k3_s1_e1_c16_nre'], ['ir_r1_k5_s2_e3_c24_nre', ...], ...]")
    options = _options(text[:text.index("[")], defaults)
    stages = _stages(text[text.index("["):])
    spec = decode(f"act={options.act} se={options.se} | {options.stem} | "
                  + " | ".join(" ".join(stage) for stage in stages) + f" | {options.head}")
    return timm_widths(spec)


def timm_widths(spec: ArchSpec) -> ArchSpec:
    """``spec`` with timm's width rules made explicit: ``c`` to a multiple of 8, an ``ir`` block's mid width
    ``make_divisible(in * e, 8)``; repeats written out."""
    in_ch = spec.stem.out
    stages = []
    for stage in spec.stages:
        blocks = []
        for block in stage:
            for r in range(block.repeats):
                out = make_divisible(block.out, TIMM_DIVISOR)
                one = replace(block, repeats=1, stride=block.stride if r == 0 else 1, out=out)
                if block.type == "ir" and block.mid is None:
                    mid = make_divisible(in_ch * block.exp, TIMM_DIVISOR)
                    if mid != max(1, int(round(in_ch * block.exp))):
                        one = replace(one, mid=mid)
                blocks.append(one)
                in_ch = out
        stages.append(tuple(blocks))
    return replace(spec, stages=tuple(stages))


def _options(text: str, defaults: ListFormDefaults) -> ListFormDefaults:
    values = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or key not in OPTION_KEYS or not value:
            raise ValueError(f"list-form option {token!r}: write key=value with key one of {', '.join(OPTION_KEYS)} "
                             "before the list, e.g. 'act=re stem=stem_k3_s2_c16 [[...]]'")
        if key in values:
            raise ValueError(f"list-form option {key!r} given twice")
        values[key] = value
    return replace(defaults, **values)


def _stages(text: str) -> list[list[str]]:
    try:
        value = ast.literal_eval(text)  # a literal only: no names, calls or attributes are evaluated
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"list-form architecture {_short(text)!r} is not a Python list of lists of block "
                         "strings") from None
    if not isinstance(value, list) or not value or not all(
            isinstance(stage, list) and stage and all(isinstance(b, str) for b in stage) for stage in value):
        raise ValueError(f"list-form architecture {_short(text)!r} must be a non-empty list of non-empty lists of "
                         "block strings")
    for stage in value:
        for block in stage:
            decode_block(block)  # each block strictly, so an error names the block
    return value


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."

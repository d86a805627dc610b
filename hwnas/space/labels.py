"""Decision labels: the one place that builds and parses the names of a space's dimensions (no torch).

A choice is a plain dict keyed by stable labels in the NNI style (``s{stage}_b{block}_{dim}``):

* ``s{stage}_b{block}_op``: which candidate a slot uses (:data:`OP`);
* ``s{stage}_b{block}_width``: the width of an elastic slot (:data:`WIDTH`);
* ``s{stage}_depth``: how many of a stage's slots are active (:data:`DEPTH`).

``s{stage}_b{block}`` alone names the slot itself (:func:`slot_label`). Everything else in hwnas (spaces,
supernets, cost penalties, search methods, reports) builds a label with the functions below and asks them what
a label is, instead of formatting or matching suffixes by hand.
"""

from __future__ import annotations

import re

OP = "op"
WIDTH = "width"
DEPTH = "depth"
KINDS = (OP, WIDTH, DEPTH)
"""The kinds of decision, as :func:`kind_of` names them."""

_LABEL = re.compile(r"^s(\d+)(?:_b(\d+))?_(op|width|depth)$")


def slot_label(stage: int, block: int) -> str:
    """The label of block position ``block`` of searchable stage ``stage``: ``s1_b2``."""
    return f"s{stage}_b{block}"


def op_label(slot: str) -> str:
    """The candidate decision of the slot labelled ``slot``: ``s1_b2_op``."""
    return f"{slot}_{OP}"


def width_label(slot: str) -> str:
    """The width decision of the slot labelled ``slot``: ``s1_b2_width``."""
    return f"{slot}_{WIDTH}"


def depth_label(stage: int) -> str:
    """The depth decision of searchable stage ``stage``: ``s1_depth``."""
    return f"s{stage}_{DEPTH}"


def _parse(label: str) -> re.Match[str] | None:
    m = _LABEL.match(label) if isinstance(label, str) else None
    if m is None or (m.group(2) is None) != (m.group(3) == DEPTH):  # a depth has no block; the others need one
        return None
    return m


def kind_of(label: str) -> str:
    """:data:`OP`, :data:`WIDTH` or :data:`DEPTH`; ``ValueError`` if ``label`` is not a decision label."""
    m = _parse(label)
    if m is None:
        raise ValueError(f"{label!r} is not a decision label; expected s<stage>_b<block>_op, "
                         "s<stage>_b<block>_width or s<stage>_depth")
    return m.group(3)


def stage_of(label: str) -> int:
    """The searchable stage a decision label belongs to; ``ValueError`` if it is not one."""
    kind_of(label)
    return int(_parse(label).group(1))  # type: ignore[union-attr]


def is_op_label(label: str) -> bool:
    """Whether ``label`` is a candidate decision (``s1_b2_op``); ``False`` for anything else."""
    m = _parse(label)
    return m is not None and m.group(3) == OP


def is_width_label(label: str) -> bool:
    """Whether ``label`` is a width decision (``s1_b2_width``); ``False`` for anything else."""
    m = _parse(label)
    return m is not None and m.group(3) == WIDTH


def is_depth_label(label: str) -> bool:
    """Whether ``label`` is a depth decision (``s1_depth``); ``False`` for anything else."""
    m = _parse(label)
    return m is not None and m.group(3) == DEPTH

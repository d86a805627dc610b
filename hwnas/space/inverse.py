"""The inverse of :meth:`SearchSpace.to_spec`: which choice of a space denotes a given network.

Used to place published networks (FBNet-A, HardCoRe-NAS A-F, TF-NAS-A, SPOS) in their spaces, and to start a
search or a fine-tune from a known architecture. The match is structural, block by block, so it is exact and fast
even for spaces of 1e40 choices: stem, head, options, prefix and suffix must be equal; each searchable stage's
blocks must be, in order, candidates of its slots (with the width, for elastic slots, among the slot's widths);
the number of blocks sets the stage's depth. Dimensions that do not change the network (slots beyond the depth, the
width of a ``skip``) take their first value, so the returned choice is canonical.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations
from typing import TYPE_CHECKING, Any

from hwnas.arch import ArchSpec, BlockSpec, encode_block
from hwnas.arch.codec import encode_head, encode_stem

if TYPE_CHECKING:
    from hwnas.space.base import Choice, SearchSpace, Slot

_WIDTH_FIELD = {"ir": "mid", "shuffle": "scale", "xception": "scale"}  # what an elastic width replaces


def expanded(stage: tuple[BlockSpec, ...]) -> list[BlockSpec]:
    """A stage with repeats written out (``ir_r2_s2`` -> ``ir_r1_s2 ir_r1_s1``): the same network."""
    return [replace(b, repeats=1, stride=b.stride if r == 0 else 1) for b in stage for r in range(b.repeats)]


def match_block(slot: Slot, block: BlockSpec) -> tuple[str, Any] | None:
    """``(candidate, width)`` such that the slot becomes ``block`` (width None if not elastic), else None."""
    for name, cand in slot.candidates.items():
        if cand.type != block.type:
            continue
        field = _WIDTH_FIELD.get(cand.type) if slot.widths is not None else None
        if field is None:
            if cand == block:
                return name, None
            continue
        width = getattr(block, field)
        if width in slot.widths and replace(block, **{field: getattr(cand, field)}) == cand:
            return name, width
    return None


def _match_stage(space: SearchSpace, s: int, blocks: list[BlockSpec], choice: Choice) -> None:
    slots = space.slots_by_stage[s]
    lo = space.min_depth.get(s, len(slots))
    if not lo <= len(blocks) <= len(slots):
        depth = f"{lo}..{len(slots)}" if lo < len(slots) else str(len(slots))
        raise ValueError(f"searchable stage {s} takes {depth} blocks, the network has {len(blocks)} there")
    if s in space.min_depth:
        choice[f"s{s}_depth"] = len(blocks)
    for slot, block in zip(slots, blocks):
        found = match_block(slot, block)
        if found is None:
            widths = "" if slot.widths is None else f" at widths {slot.widths[0]}..{slot.widths[-1]}"
            raise ValueError(f"block {encode_block(block)} is not one of slot {slot.label}'s candidates "
                             f"({', '.join(slot.candidates)}){widths}")
        choice[slot.op_label] = found[0]
        if found[1] is not None:
            choice[slot.width_label] = found[1]


def _check_fixed(space: SearchSpace, spec: ArchSpec, stages: list[list[BlockSpec]]) -> None:
    for what, mine, theirs, text in (("stem", space.stem, spec.stem, encode_stem), ("head", space.head, spec.head,
                                     encode_head), ("act", space.act, spec.act, str),
                                     ("se mode", space.se_mode, spec.se_mode, str)):
        if mine != theirs:
            raise ValueError(f"the network's {what} {text(theirs)!r} is not the space's {text(mine)!r}")
    n_pre, n_suf = len(space.prefix), len(space.suffix)
    if len(stages) < n_pre + n_suf + 1:
        raise ValueError(f"the network has {len(stages)} stages; space {space.name!r} has at least "
                         f"{n_pre + n_suf + 1}")
    for what, mine, theirs in (("prefix", space.prefix, stages[:n_pre]),
                               ("suffix", space.suffix, stages[len(stages) - n_suf:])):
        if [expanded(st) for st in mine] != theirs:
            raise ValueError(f"the network's fixed {what} stages differ from space {space.name!r}'s")


def _find(space: SearchSpace, spec: ArchSpec) -> Choice:
    stages = [expanded(st) for st in spec.stages]
    _check_fixed(space, spec, stages)
    middle = stages[len(space.prefix):len(stages) - len(space.suffix)]
    n = len(space.slots_by_stage)
    # A stage whose depth may be 0 vanishes from the spec; try each way of placing the missing ones.
    droppable = [s for s in range(n) if space.min_depth.get(s) == 0]
    missing = n - len(middle)
    if missing < 0 or missing > len(droppable):
        raise ValueError(f"the network has {len(middle)} searchable stages; space {space.name!r} has {n}")
    first_error: ValueError | None = None
    for dropped in combinations(droppable, missing):
        choice = {d.label: d.values[0] for d in space.dims()}
        kept = [s for s in range(n) if s not in dropped]
        try:
            for s in dropped:
                choice[f"s{s}_depth"] = 0
            for s, blocks in zip(kept, middle):
                _match_stage(space, s, blocks, choice)
        except ValueError as e:
            first_error = first_error or e
            continue
        assert [expanded(st) for st in space.to_spec(choice).stages] == stages, "choice_for is not to_spec's inverse"
        return choice
    assert first_error is not None
    raise first_error


def choice_for(space: SearchSpace, spec: ArchSpec) -> Choice:
    """The canonical choice whose :meth:`SearchSpace.to_spec` is ``spec`` (up to written-out repeats)."""
    if not isinstance(spec, ArchSpec):
        raise ValueError(f"expected an ArchSpec, got {type(spec).__name__}")
    try:
        return _find(space, spec)
    except ValueError as e:
        raise ValueError(f"not in space {space.name!r}: {e}") from None

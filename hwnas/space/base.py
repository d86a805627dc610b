"""The SearchSpace contract: labelled choices, sampling and variation, and the map from a choice to an ArchSpec
and back (:func:`choice_for`).

A space is described once, as data: a fixed stem and head, and a list of searchable *slots* (one block position
each) grouped in stages. A sampled architecture (a *choice*) is a plain ``dict`` from stable labels to values,
in the NNI style (``s{stage}_b{block}_{dim}``, built and parsed by :mod:`hwnas.space.labels` only)::

    {"s1_b0_op": "k5_e6", "s1_b1_op": "skip", "s1_depth": 3, "s3_b2_width": 248, ...}

Three kinds of dimension exist, each a :class:`Dim`:

* ``s{stage}_b{block}_op``: which candidate block a slot uses (a key of :attr:`Slot.candidates`);
* ``s{stage}_b{block}_width``: the mid width of an elastic slot: an int mid width for ``ir`` blocks (TF-NAS
  elastic widths), the float channel scale ``w`` for SPOS ``shuffle``/``xception`` blocks;
* ``s{stage}_depth``: how many of a stage's slots are active (HardCoRe-NAS depth, TF-NAS sink-connecting);
  slots beyond the depth are dropped from the network, and only slots with ``optional=True`` can be.

Everything here is pure Python with an explicit ``random.Random``: no torch, no global RNG. Supernets
(:mod:`hwnas.supernet`) are built from :meth:`SearchSpace.slots`, so a space is defined in exactly one place.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

from hwnas.arch import ArchSpec, BlockSpec, HeadSpec, StemSpec, encode_block
from hwnas.arch.codec import encode_head, encode_stem
from hwnas.space import labels

Choice = dict[str, Any]
"""One architecture of a space: label -> value (str candidate name, or int width/depth)."""


@dataclass(frozen=True)
class Dim:
    """One labelled decision and the values it may take (in a fixed, documented order)."""

    label: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"dimension {self.label!r} has no values")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"dimension {self.label!r} repeats a value: {self.values}")


@dataclass(frozen=True)
class Slot:
    """One searchable block position.

    ``candidates`` maps a candidate name to its block at this position (``stride`` and ``out`` already set,
    ``repeats == 1``). For an elastic slot, ``widths`` lists the allowed values in increasing order (int mid
    widths for ``ir``, float scales for SPOS blocks) and every candidate's block is written at its *largest*
    width; the chosen value replaces ``mid`` (``ir``) or ``scale`` (SPOS blocks) in :meth:`SearchSpace.block_for`. ``optional`` slots may be removed by the stage's depth dimension: they always
    have stride 1 and ``in_ch == out_ch``.
    """

    label: str  # labels.slot_label(stage, index): "s{stage}_b{block}"
    stage: int
    index: int  # position within the stage
    in_ch: int
    out_ch: int
    stride: int
    candidates: Mapping[str, BlockSpec]
    widths: tuple[int, ...] | tuple[float, ...] | None = None
    optional: bool = False

    @property
    def op_label(self) -> str:
        return labels.op_label(self.label)

    @property
    def width_label(self) -> str:
        return labels.width_label(self.label)


def candidate_width(width: Any, index: int) -> Any:
    """Candidate ``index``'s width: ``width`` itself, or its ``index``-th entry when ``width`` gives every candidate
    of a slot its own (a tuple or list in candidate order: TF-NAS searches each operation at its own width)."""
    return width[index] if isinstance(width, (tuple, list)) else width


@dataclass(frozen=True)
class SpaceGeometry:
    """What every space is parameterised by."""

    input_size: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    width_mult: float = 1.0


@dataclass
class SearchSpace:
    """A space of networks: a fixed stem/prefix/suffix/head around searchable slots.

    Subclasses (one module per space) only build the slots; everything below is shared. ``prefix`` and
    ``suffix`` are fixed (non-searchable) stages before and after the searchable ones, e.g. the TF-NAS second
    stem or the final ``cn`` 1x1 conv.
    """

    name: str
    geometry: SpaceGeometry
    stem: StemSpec
    slots_by_stage: tuple[tuple[Slot, ...], ...]
    head: HeadSpec
    act: str = "re"
    se_mode: str = "in"
    prefix: tuple[tuple[BlockSpec, ...], ...] = ()
    suffix: tuple[tuple[BlockSpec, ...], ...] = ()
    min_depth: Mapping[int, int] = field(default_factory=dict)  # stage -> fewest active slots (stages with depth)
    description: str = ""

    # ------------------------------------------------------------------------------------------ structure
    def slots(self) -> list[Slot]:
        return [slot for stage in self.slots_by_stage for slot in stage]

    def dims(self) -> list[Dim]:
        """Every labelled decision, in a stable order (stage by stage, depth after the stage's slots)."""
        out: list[Dim] = []
        for s, stage in enumerate(self.slots_by_stage):
            for slot in stage:
                out.append(Dim(slot.op_label, tuple(slot.candidates)))
                if slot.widths is not None:
                    out.append(Dim(slot.width_label, slot.widths))
            if s in self.min_depth:
                out.append(Dim(labels.depth_label(s), tuple(range(self.min_depth[s], len(stage) + 1))))
        return out

    def size(self) -> int:
        """Number of distinct choices (dimensions of dropped slots still count: an upper bound, as in NNI)."""
        return math.prod(len(d.values) for d in self.dims())

    # ------------------------------------------------------------------------------------------ variation
    def sample(self, rng: random.Random) -> Choice:
        """A uniformly random choice (each dimension independently)."""
        return {d.label: rng.choice(d.values) for d in self.dims()}

    def heaviest(self) -> Choice:
        """The last value of every dimension: spaces order values so that this is the largest network."""
        return {d.label: d.values[-1] for d in self.dims()}

    def lightest(self) -> Choice:
        """The first value of every dimension: the smallest network (the bottom slice of BigNAS's sandwich)."""
        return {d.label: d.values[0] for d in self.dims()}

    def mutate(self, choice: Choice, rng: random.Random, prob: float = 0.1) -> Choice:
        """Resample each dimension with probability ``prob`` (SPOS evolution, Guo et al. 2019, Sec. 3.3)."""
        self.check(choice)
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"mutation probability must be in [0, 1], got {prob}")
        return {d.label: rng.choice(d.values) if rng.random() < prob else choice[d.label] for d in self.dims()}

    def crossover(self, a: Choice, b: Choice, rng: random.Random) -> Choice:
        """Uniform crossover: each dimension from ``a`` or ``b`` with equal probability."""
        self.check(a)
        self.check(b)
        return {d.label: (a if rng.random() < 0.5 else b)[d.label] for d in self.dims()}

    # ------------------------------------------------------------------------------------------ membership
    def contains(self, choice: Mapping[str, Any]) -> bool:
        try:
            self.check(choice)
        except ValueError:
            return False
        return True

    def check(self, choice: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` naming the first missing, unknown or out-of-range label."""
        if not isinstance(choice, Mapping):
            raise ValueError(f"a choice is a dict of label -> value, got {type(choice).__name__}")
        dims = self.dims()
        known = {d.label for d in dims}
        unknown = sorted(set(choice) - known)
        if unknown:
            raise ValueError(f"space {self.name!r} has no dimension {unknown[0]!r}")
        for d in dims:
            if d.label not in choice:
                raise ValueError(f"choice for space {self.name!r} is missing {d.label!r}")
            if choice[d.label] not in d.values:
                shown = d.values if len(d.values) <= 12 else f"{d.values[0]}..{d.values[-1]}"
                raise ValueError(f"{d.label}={choice[d.label]!r} is not one of {shown}")

    # ------------------------------------------------------------------------------------------ to a network
    def active_slots(self, choice: Mapping[str, Any]) -> list[Slot]:
        """The slots that are part of the network for ``choice`` (depth applied)."""
        active = []
        for s, stage in enumerate(self.slots_by_stage):
            depth = choice.get(labels.depth_label(s), len(stage)) if s in self.min_depth else len(stage)
            active += stage[:depth]
        return active

    def block_for(self, slot: Slot, choice: Mapping[str, Any]) -> BlockSpec:
        """The block a slot becomes under ``choice`` (candidate, with the chosen width applied).

        A candidate is written at its largest width, and a width above it is that largest width: a candidate may
        have a narrower range than the slot (TF-NAS: an e3 op's mid width reaches ``4 * in``, an e6 op's
        ``8 * in``; Hu et al. 2020, Sec. 3.3)."""
        block = slot.candidates[choice[slot.op_label]]
        attr = block.kind.width_field  # the field a width sets (mid, or the SPOS scale); none: a skip or a cn
        if slot.widths is None or attr is None:
            return block
        width, largest = choice[slot.width_label], getattr(block, attr)
        return replace(block, **{attr: width if largest is None else min(width, largest)})

    def to_spec(self, choice: Mapping[str, Any]) -> ArchSpec:
        """The network ``choice`` denotes, as an ArchSpec the builder, cost models and export all accept."""
        self.check(choice)
        chosen: dict[int, list[BlockSpec]] = {}
        for slot in self.active_slots(choice):
            chosen.setdefault(slot.stage, []).append(self.block_for(slot, choice))
        stages = [*self.prefix, *(tuple(chosen[s]) for s in sorted(chosen)), *self.suffix]
        return ArchSpec(stem=self.stem, stages=tuple(tuple(st) for st in stages), head=self.head, act=self.act,
                        se_mode=self.se_mode)

    def choice_for(self, spec: ArchSpec) -> Choice:
        """The choice whose :meth:`to_spec` is ``spec``; ``ValueError`` naming the first mismatch if none is.

        Exact and structural (see :func:`choice_for`); dimensions that do not affect the network take their first
        value, so the result is canonical. Repeats (``r2``) may be written out or not.
        """
        return choice_for(self, spec)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (``hwnas space show``)."""
        return {
            "name": self.name, "size": self.size(), "input_size": self.geometry.input_size,
            "in_channels": self.geometry.in_channels, "num_classes": self.geometry.num_classes,
            "width_mult": self.geometry.width_mult, "layers": len(self.slots()), "description": self.description,
            "dims": [{"label": d.label, "values": list(d.values) if len(d.values) <= 16
                      else {"min": d.values[0], "max": d.values[-1], "count": len(d.values)}}
                     for d in self.dims()],
        }


def check_geometry(input_size: int, in_channels: int, num_classes: int, width_mult: float) -> SpaceGeometry:
    """Validate the arguments every space takes."""
    for name, value in (("input_size", input_size), ("in_channels", in_channels), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not 0 < width_mult <= 4:
        raise ValueError(f"width_mult must be in (0, 4], got {width_mult!r}")
    return SpaceGeometry(input_size, in_channels, num_classes, float(width_mult))


# ---------------------------------------------------------------------------------------------- the inverse map
# The inverse of :meth:`SearchSpace.to_spec`: which choice of a space denotes a given network.
#
# Used to place published networks (FBNet-A, HardCoRe-NAS A-F, TF-NAS-A, SPOS) in their spaces, and to start a
# search or a fine-tune from a known architecture. The match is structural, block by block, so it is exact and fast
# even for spaces of 1e40 choices: stem, head, options, prefix and suffix must be equal; each searchable stage's
# blocks must be, in order, candidates of its slots (with the width, for elastic slots, among the slot's widths);
# the number of blocks sets the stage's depth. Dimensions that do not change the network (slots beyond the depth, the
# width of a ``skip``) take their first value, so the returned choice is canonical.

def expanded(stage: tuple[BlockSpec, ...]) -> list[BlockSpec]:
    """A stage with repeats written out (``ir_r2_s2`` -> ``ir_r1_s2 ir_r1_s1``): the same network."""
    return [replace(b, repeats=1, stride=b.stride if r == 0 else 1) for b in stage for r in range(b.repeats)]


def match_block(slot: Slot, block: BlockSpec) -> tuple[str, Any] | None:
    """``(candidate, width)`` such that the slot becomes ``block`` (width None if not elastic), else None."""
    for name, cand in slot.candidates.items():
        if cand.type != block.type:
            continue
        attr = cand.kind.width_field if slot.widths is not None else None
        if attr is None:
            if cand == block:
                return name, None
            continue
        width, largest = getattr(block, attr), getattr(cand, attr)
        if width in slot.widths and (largest is None or width <= largest) and replace(block, **{attr: largest}) == cand:
            return name, width
    return None


def _match_stage(space: SearchSpace, s: int, blocks: list[BlockSpec], choice: Choice) -> None:
    slots = space.slots_by_stage[s]
    lo = space.min_depth.get(s, len(slots))
    if not lo <= len(blocks) <= len(slots):
        depth = f"{lo}..{len(slots)}" if lo < len(slots) else str(len(slots))
        raise ValueError(f"searchable stage {s} takes {depth} blocks, the network has {len(blocks)} there")
    if s in space.min_depth:
        choice[labels.depth_label(s)] = len(blocks)
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
                choice[labels.depth_label(s)] = 0
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

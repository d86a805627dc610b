"""Keys of a latency table: one canonical string per distinct timed op (no torch).

A latency lookup table (FBNet, Wu et al. 2019, Eq. 2-3: ``LAT(a) = sum_l LAT(b_l^(a))``) times every *op* a space
can produce once and predicts a network by summing. An op is the stem, one resolved block reading a given input
shape, or the head. Its key must name exactly the module that was timed, whatever way the network's text wrote
it, so keys are made from the *resolved* layer (:func:`hwnas.arch.resolve_layers`), not from the block as written:

* ``stem_k3_s2_c16_nre@3x224x224``: the stem with its resolved activation and the image shape;
* ``ir_r1_k5_s2_e1_c24_m96_nre_sec4@16x112x112/se=in``: a block with every width explicit (``ir`` always
  carries its mid width ``m``, so ``e`` is always 1; an SE is always a width ``sec``; the activation is always
  written; ``noskip`` only where a residual was possible), stride of this repeat, ``r1``, then the input
  shape (C x H x W), then the SE convention when the block has an SE (it sets the gate and the SE activation);
* ``head_c1280_nhs@960x7x7/classes=1000``: the head (dropout dropped: a no-op at inference).

So TF-NAS's ``k3_e3`` and ``k3_e6`` at one mid width, or ``e6`` on 16 channels and ``m96``, are one key and
timed once. Batch size, dtype and backend are not in the key: they belong to the table's provenance.

Elastic widths (TF-NAS mid widths, SPOS channel scales) can have too many values to time them all, so a table
times a grid of widths per slot candidate (:func:`grid_widths`) and interpolates linearly in the width between the
two nearest grid points. Ops that differ only in that width share a *family* key, the op key with the width
token written ``m*`` (``w*`` for SPOS scales); :func:`family_of` gives an op's family and width.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from hwnas.arch.codec import encode_block, encode_head, encode_stem
from hwnas.arch.resolve import Layer, feature_sizes, resolve_block, resolve_layers
from hwnas.arch.spec import ArchSpec, BlockSpec, HeadSpec, StemSpec
from hwnas.blocks.registry import block_type, block_types
from hwnas.space.base import SearchSpace, Slot

OP_KINDS = ("stem", "block", "head")
_SENTINEL_MID = 65535  # a valid mid width no real block uses; replaced by "*" in family keys
_SENTINEL_SCALE = 999.0


@dataclass(frozen=True)
class OpSpec:
    """One timed op: its canonical text (stem, block or head grammar), input shape and what else shapes it.

    ``family`` and ``width`` are set for ops of elastic width (see the module docstring); they are not part of
    the key.
    """

    kind: str
    text: str
    in_shape: tuple[int, int, int]  # C, H, W of one image
    se_mode: str | None = None  # blocks with an SE only
    num_classes: int | None = None  # head only
    family: str | None = None
    width: float | None = None

    @property
    def key(self) -> str:
        c, h, w = self.in_shape
        key = f"{self.text}@{c}x{h}x{w}"
        if self.se_mode is not None:
            key += f"/se={self.se_mode}"
        if self.num_classes is not None:
            key += f"/classes={self.num_classes}"
        return key


def parse_key(key: str) -> OpSpec:
    """The op a key names (inverse of :attr:`OpSpec.key`, without family); ``ValueError`` if malformed."""
    try:
        body, *options = key.split("/")
        text, shape = body.split("@")
        c, h, w = (int(v) for v in shape.split("x"))
        opts = dict(o.split("=", 1) for o in options)
    except ValueError:
        raise ValueError(f"malformed op key {key!r}; expected e.g. 'ir_r1_k3_s1_e1_c16_m32_nre@16x56x56'") from None
    kind = "stem" if text.startswith("stem") else "head" if text.startswith("head") else "block"
    unknown = set(opts) - {"se", "classes"}
    if unknown:
        raise ValueError(f"op key {key!r}: unknown option(s) {sorted(unknown)}")
    classes = int(opts["classes"]) if "classes" in opts else None
    return OpSpec(kind, text, (c, h, w), opts.get("se"), classes)


# ---------------------------------------------------------------------------------------------- canonical forms
def canonical_block(layer: Layer) -> BlockSpec:
    """The block that builds exactly ``layer``'s module, with every width explicit (see the module docstring);
    each block type writes its own (``BlockType.key_block``, :mod:`hwnas.blocks`)."""
    if layer.type not in block_types():
        raise ValueError(f"no latency-table key for block type {layer.type!r}")
    return block_type(layer.type).key_block(layer)


def block_op(layer: Layer, size: int, se_mode: str) -> OpSpec:
    """The op of one resolved layer reading a ``size`` x ``size`` map."""
    block = canonical_block(layer)
    family, width = family_of(layer, block, size, se_mode)
    return OpSpec("block", encode_block(block), (layer.in_ch, size, size), se_mode if layer.se_ch else None,
                  family=family, width=width)


def family_of(layer: Layer, block: BlockSpec, size: int, se_mode: str) -> tuple[str | None, float | None]:
    """(family key, width) of an op whose width is elastic, else ``(None, None)``.

    Only blocks written with an explicit mid (``m``) or scale (``w``) are elastic. An SE written as a ratio in
    ``exp`` mode grows with the mid width, so the family keeps the ratio rather than the resolved SE width.
    """
    written = layer.block
    elastic = written.kind.width_field
    if elastic == "mid" and written.mid is not None:
        fam = replace(block, mid=_SENTINEL_MID)
        if written.se and se_mode == "exp":
            fam = replace(fam, se_channels=None, se=written.se)
        text, width = encode_block(fam).replace(f"_m{_SENTINEL_MID}", "_m*"), float(layer.mid)
    elif elastic == "scale":
        text, width = encode_block(replace(block, scale=_SENTINEL_SCALE)).replace("_w999", "_w*"), written.scale
    else:
        return None, None
    shape = f"@{layer.in_ch}x{size}x{size}" + (f"/se={se_mode}" if layer.se_ch else "")
    return text + shape, width


def stem_op(spec: ArchSpec, input_size: int, in_channels: int) -> OpSpec:
    stem = StemSpec(spec.stem.out, spec.stem.kernel, spec.stem.stride, act=spec.stem.act or spec.act)
    return OpSpec("stem", encode_stem(stem), (in_channels, input_size, input_size))


def head_op(spec: ArchSpec, in_ch: int, size: int, num_classes: int) -> OpSpec:
    head = spec.head
    act = (head.act or spec.act) if head.features else None
    canon = HeadSpec(features=head.features, act=act, dropout=0.0, fc_bias=head.fc_bias)
    return OpSpec("head", encode_head(canon), (in_ch, size, size), num_classes=num_classes)


def spec_ops(spec: ArchSpec, input_size: int, in_channels: int, num_classes: int) -> list[OpSpec]:
    """Every op of a network in execution order: stem, one per resolved layer (repeats expanded), head."""
    _, sizes = feature_sizes(spec, input_size)
    layers = resolve_layers(spec)
    ops = [stem_op(spec, input_size, in_channels)]
    ops += [block_op(layer, size, spec.se_mode) for layer, (size, _) in zip(layers, sizes)]
    ops.append(head_op(spec, layers[-1].out_ch, sizes[-1][1], num_classes))
    return ops


# ------------------------------------------------------------------------------------------------- spaces
@dataclass(frozen=True)
class SpaceLayout:
    """Where a space's searchable slots sit: the input size of each slot, and the fixed ops around them."""

    slot_sizes: dict[str, int]  # slot label -> input height = width
    fixed: tuple[int, ...]  # indices into spec_ops(heaviest) of the stem, prefix, suffix and head


def space_layout(space: SearchSpace) -> SpaceLayout:
    """Slot input sizes and fixed positions, read off the heaviest network (every slot active, one op each).

    A slot's input size does not depend on the choice: only stride-1, shape-keeping slots can be dropped.
    """
    g = space.geometry
    ops = spec_ops(space.to_spec(space.heaviest()), g.input_size, g.in_channels, g.num_classes)
    n_prefix = sum(b.repeats for stage in space.prefix for b in stage)
    n_suffix = sum(b.repeats for stage in space.suffix for b in stage)
    slots = space.slots()
    assert len(ops) == 2 + n_prefix + len(slots) + n_suffix, "a slot candidate has repeats != 1"
    sizes = {slot.label: ops[1 + n_prefix + i].in_shape[1] for i, slot in enumerate(slots)}
    fixed = (*range(0, 1 + n_prefix), *range(len(ops) - 1 - n_suffix, len(ops)))
    return SpaceLayout(sizes, fixed)


def fixed_ops(space: SearchSpace) -> list[OpSpec]:
    """The stem, prefix, suffix and head ops every network of the space has."""
    g = space.geometry
    ops = spec_ops(space.to_spec(space.heaviest()), g.input_size, g.in_channels, g.num_classes)
    return [ops[i] for i in space_layout(space).fixed]


def candidate_op(space: SearchSpace, slot: Slot, name: str, width: Any, size: int) -> OpSpec:
    """The op candidate ``name`` of ``slot`` becomes at ``width`` (``None``: a slot without widths)."""
    choice = {slot.op_label: name, slot.width_label: width}
    layer = resolve_block(space.block_for(slot, choice), slot.in_ch, space.act, space.se_mode)
    return block_op(layer, size, space.se_mode)


def grid_widths(values: tuple, count: int | None) -> tuple:
    """``count`` values spread evenly (by index) over ``values``, both ends included; all if ``count`` is None
    or not smaller. The widths a table times for an elastic slot (the rest are interpolated)."""
    if count is None or len(values) <= count:
        return tuple(values)
    if count < 2:
        raise ValueError(f"a width grid needs at least 2 points (both ends), got {count}")
    return tuple(values[round(i * (len(values) - 1) / (count - 1))] for i in range(count))


def space_ops(space: SearchSpace, width_grid: int | None = 10) -> tuple[list[OpSpec], dict[str, list[list]]]:
    """Every distinct op of ``space`` and the width families among them.

    Ops come in a stable order: fixed ops, then every candidate of every slot at every grid width
    (:func:`grid_widths`), deduplicated by key (first occurrence kept). Families are collected before
    deduplication, so that no grid point is lost when two written forms resolve to one op.
    """
    layout = space_layout(space)
    ops = fixed_ops(space)
    for slot in space.slots():
        widths = grid_widths(slot.widths, width_grid) if slot.widths is not None else (None,)
        for name in slot.candidates:
            ops += [candidate_op(space, slot, name, w, layout.slot_sizes[slot.label]) for w in widths]
    return dedupe(ops), families(ops)


def dedupe(ops: list[OpSpec]) -> list[OpSpec]:
    seen: dict[str, OpSpec] = {}
    for op in ops:
        seen.setdefault(op.key, op)
    return list(seen.values())


def families(ops: list[OpSpec]) -> dict[str, list[list]]:
    """family key -> sorted ``[width, key]`` pairs of the ops that share it (only families with 2+ widths)."""
    out: dict[str, dict[float, str]] = {}
    for op in ops:
        if op.family is not None:
            out.setdefault(op.family, {})[op.width] = op.key
    return {f: [[w, k] for w, k in sorted(pts.items())] for f, pts in sorted(out.items()) if len(pts) > 1}


def space_digest(space: SearchSpace) -> str:
    """A fingerprint of everything about a space that decides its ops (a YAML file edited since is caught)."""
    data = {
        "stem": encode_stem(space.stem), "head": encode_head(space.head), "act": space.act, "se": space.se_mode,
        "prefix": [[encode_block(b) for b in st] for st in space.prefix],
        "suffix": [[encode_block(b) for b in st] for st in space.suffix],
        "min_depth": sorted(space.min_depth.items()),
        "slots": [[s.label, s.in_ch, s.out_ch, s.stride, s.optional, list(s.widths or ()),
                   {n: encode_block(b) for n, b in s.candidates.items()}] for s in space.slots()],
    }
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()[:16]

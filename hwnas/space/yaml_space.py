"""Search spaces written in YAML, so a user can define one without Python.

A file holds one mapping (``configs/spaces/example.yaml`` is a complete example)::

    name: tiny                     # optional (default: the file name)
    description: ...               # optional
    act: re                        # default activation: re | r6 | hs | sw (default re)
    se_mode: in                    # SE convention: in | exp (default in)
    stem: stem_k3_s2_c16           # the stem, in the arch text grammar
    prefix: [ds_r1_k3_s1_e1_c16]   # optional fixed stages before the searched ones (blocks separated by spaces)
    candidates:                    # optional names for candidate blocks
      mb3: ir_k3_e3
    stages:                        # the searched stages, in order
      - out: 24                    # output channels
        stride: 2                  # stride of the stage's first block
        depth: [1, 3]              # [fewest, most] blocks (the first fewest are always there), or one int
        candidates: [skip, mb3, ir_k5_e6_se0.25]   # names from `candidates`, or block strings
        widths: [32, 48, 64]       # optional elastic widths: int mid widths for ir, float scales w for SPOS
                                   # blocks; or {min: 32, max: 64, step: 8}
    suffix: [cn_r1_k1_s1_c1280]    # optional fixed stages after them
    head: head                     # the head (default "head")

A candidate is a block string *without* ``r``, ``s`` and ``c`` (the stage sets one block, its stride and its
width), and, in an elastic stage, without ``m``/``w`` (the width dimension sets them). List candidates and
widths lightest first: :meth:`~hwnas.space.SearchSpace.heaviest` takes the last of each. Every mistake raises
``ValueError`` naming the key, e.g. ``stages[1].depth``. Every candidate is built at every slot (at its smallest
and largest width) when the file is loaded, so a space that loads only holds valid networks.

Geometry: ``width_mult`` scales every channel count (stem, stage outs, fixed blocks, head, SE widths and int mid
widths) with ``make_divisible(c * w, 8)``; small inputs get the small-input strides of :mod:`hwnas.space.macro`
(positions: the stem, every fixed block, each stage's first block; a stage with a ShuffleNetV2 candidate keeps
its stride 2).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from hwnas.arch import ACTIVATIONS, SE_MODES, ArchSpec, BlockSpec, StemSpec, block_kind, decode_block, kind_names
from hwnas.arch.codec import decode_head, decode_stem
from hwnas.space.base import SearchSpace, Slot, check_geometry
from hwnas.space.labels import slot_label
from hwnas.space.macro import checked, keeps_downsampling, scale_channels, small_input_strides

TOP_KEYS = {"name", "description", "act", "se_mode", "stem", "prefix", "candidates", "stages", "suffix", "head"}
STAGE_KEYS = {"out", "stride", "depth", "candidates", "widths"}
RANGE_KEYS = {"min", "max", "step"}
_SET_BY_STAGE = re.compile(r"^[rsc]\d")  # r/s/c tokens (se0.25 and sec8 do not match)
_SET_BY_WIDTH = re.compile(r"^[mw][\d.]")


def _fail(key: str, msg: str) -> NoReturn:
    raise ValueError(f"{key}: {msg}")


def _int(key: str, value: Any, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        _fail(key, f"expected an integer >= {lo}, got {value!r}")
    return value


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(key, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _keys(key: str, data: Any, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(data, dict):
        _fail(key or "space", f"expected a mapping, got {type(data).__name__}")
    for k in data:
        if k not in allowed:
            _fail(f"{key}.{k}" if key else str(k), f"unknown key; valid keys: {', '.join(sorted(allowed))}")
    for k in sorted(required - set(data)):
        _fail(f"{key}.{k}" if key else k, "missing")
    return data


def _scale_block(block: BlockSpec, w: float, out: bool = True) -> BlockSpec:
    """``block`` with its widths scaled by ``width_mult`` (``out=False``: all but the out channels)."""
    if w == 1.0:
        return block
    return replace(block, out=scale_channels(block.out, w) if out else block.out,
                   mid=None if block.mid is None else scale_channels(block.mid, w),
                   se_channels=None if block.se_channels is None else scale_channels(block.se_channels, w))


def _fixed_stages(key: str, data: Any, w: float) -> list[list[BlockSpec]]:
    if not isinstance(data, list):
        _fail(key, "expected a list of stages (each a string of blocks separated by spaces)")
    stages = []
    for i, text in enumerate(data):
        text = _str(f"{key}[{i}]", text)
        try:
            stages.append([_scale_block(decode_block(b), w) for b in text.split()])
        except ValueError as e:
            _fail(f"{key}[{i}]", str(e))
    return stages


def _widths(key: str, data: Any, w: float) -> tuple:
    if isinstance(data, dict):
        _keys(key, data, RANGE_KEYS, RANGE_KEYS)
        lo, hi, step = (_int(f"{key}.{k}", data[k]) for k in ("min", "max", "step"))
        if hi < lo:
            _fail(f"{key}.max", f"{hi} is below min {lo}")
        data = list(range(lo, hi + 1, step))
    if not isinstance(data, list) or not data:
        _fail(key, "expected a non-empty list of widths or {min, max, step}")
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in data)
    if not ints and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data):
        _fail(key, f"widths are numbers, got {data!r}")
    if any(v <= 0 for v in data) or any(b <= a for a, b in zip(data, data[1:])):
        _fail(key, f"widths must be positive and strictly increasing, got {data!r}")
    if not ints:
        return tuple(float(v) for v in data)  # SPOS scales are relative: width_mult leaves them alone
    return tuple(dict.fromkeys(scale_channels(v, w) for v in data))  # scaling may merge neighbours


def _candidate(key: str, text: str, out: int, stride: int, widths: tuple | None, w: float) -> BlockSpec:
    """A candidate at a slot with (already scaled) ``out`` channels, written at its largest width."""
    kind, *tokens = text.split("_")
    if any(_SET_BY_STAGE.match(t) for t in tokens):
        _fail(key, f"{text!r} sets r, s or c; the stage sets repeats (1), stride and out channels")
    if widths is not None and any(_SET_BY_WIDTH.match(t) for t in tokens):
        _fail(key, f"{text!r} sets m or w; in a stage with widths the width dimension sets them")
    bk = block_kind(kind) if kind in kind_names() else None  # an unknown type fails in decode_block below
    attr = bk.width_field if bk else None  # what a width sets: the mid width or the SPOS scale
    elastic_ir = widths is not None and attr == "mid"
    if elastic_ir and not isinstance(widths[-1], int):
        _fail(key, f"an ir block takes int mid widths, the stage's widths are {list(widths)}")
    if widths is not None and attr is None and not (bk and bk.width_free):
        takes = ", ".join(n for n in kind_names() if block_kind(n).width_field or block_kind(n).width_free)
        _fail(key, f"{kind!r} blocks have no elastic width; elastic stages take {takes}")
    scale = f"_w{widths[-1]}" if widths is not None and attr == "scale" else ""
    try:
        block = _scale_block(decode_block(f"{text}_r1_s{stride}_c{out}{scale}"), w, out=False)
        # Written at the largest width (the SearchSpace contract); widths are already scaled.
        return replace(block, mid=widths[-1]) if elastic_ir else block
    except ValueError as e:
        _fail(key, str(e))


def _stage(key: str, data: Any, named: dict[str, str]) -> dict:
    _keys(key, data, STAGE_KEYS, {"out", "stride", "candidates"})
    _int(f"{key}.out", data["out"])
    if data["stride"] not in (1, 2) or isinstance(data["stride"], bool):
        _fail(f"{key}.stride", f"expected 1 or 2, got {data['stride']!r}")
    depth = data.get("depth", 1)
    if isinstance(depth, list):
        if len(depth) != 2:
            _fail(f"{key}.depth", f"expected [fewest, most], got {depth!r}")
        lo, hi = _int(f"{key}.depth[0]", depth[0]), _int(f"{key}.depth[1]", depth[1])
        if hi < lo:
            _fail(f"{key}.depth", f"most ({hi}) is below fewest ({lo})")
    else:
        lo = hi = _int(f"{key}.depth", depth)
    cands = data["candidates"]
    if not isinstance(cands, list) or not cands:
        _fail(f"{key}.candidates", "expected a non-empty list of names or block strings")
    texts = [_str(f"{key}.candidates[{i}]", c) for i, c in enumerate(cands)]
    if len(set(texts)) != len(texts):
        _fail(f"{key}.candidates", f"repeats a candidate: {texts}")
    for i, t in enumerate(texts):
        if t not in named and t.split("_")[0] not in kind_names():
            _fail(f"{key}.candidates[{i}]", f"{t!r} is neither a name under `candidates` "
                  f"({', '.join(named) or 'none defined'}) nor a block string ({', '.join(kind_names())})")
    return {"out": data["out"], "stride": data["stride"], "lo": lo, "hi": hi, "widths": data.get("widths"),
            "candidates": {t: named.get(t, t) for t in texts}}


def _options(data: dict, w: float) -> dict[str, Any]:
    act, se_mode = data.get("act", "re"), data.get("se_mode", "in")
    if act not in ACTIVATIONS:
        _fail("act", f"{act!r} is not one of {', '.join(ACTIVATIONS)}")
    if se_mode not in SE_MODES:
        _fail("se_mode", f"{se_mode!r} is not one of {', '.join(SE_MODES)}")
    stem_text, head_text = _str("stem", data["stem"]), _str("head", data.get("head", "head"))
    try:
        stem = decode_stem(stem_text)
    except ValueError as e:
        _fail("stem", str(e))
    try:
        head = decode_head(head_text)
    except ValueError as e:
        _fail("head", str(e))
    if head.features is not None:
        head = replace(head, features=scale_channels(head.features, w))
    named = data.get("candidates", {})
    if not isinstance(named, dict):
        _fail("candidates", f"expected a mapping of name -> block string, got {type(named).__name__}")
    for k, v in named.items():
        _str(f"candidates.{k}", v)
    return {"act": act, "se_mode": se_mode, "stem": replace(stem, out=scale_channels(stem.out, w)), "head": head,
            "named": {str(k): v.strip() for k, v in named.items()}}


def _adapt_strides(input_size: int, stem: StemSpec, prefix: list, stages: list[dict], suffix: list):
    """Apply the small-input rule over every downsampling position, in network order (in place for stages)."""
    fixed_blocks = [b for st in (*prefix, *suffix) for b in st]
    n_pre = sum(len(st) for st in prefix)
    strides = [stem.stride, *(b.stride for b in fixed_blocks[:n_pre]), *(st["stride"] for st in stages),
               *(b.stride for b in fixed_blocks[n_pre:])]
    fixed = [False, *(keeps_downsampling(b.type) for b in fixed_blocks[:n_pre]),
             *(any(keeps_downsampling(c.split("_")[0]) for c in st["candidates"].values()) for st in stages),
             *(keeps_downsampling(b.type) for b in fixed_blocks[n_pre:])]
    new = iter(small_input_strides(input_size, strides, fixed))
    stem = replace(stem, stride=next(new))
    prefix = [[replace(b, stride=next(new)) for b in st] for st in prefix]
    for st in stages:
        st["stride"] = next(new)
    suffix = [[replace(b, stride=next(new)) for b in st] for st in suffix]
    return stem, prefix, suffix


def _slots(i: int, st: dict, in_ch: int, w: float) -> tuple[Slot, ...]:
    key = f"stages[{i}]"
    out = scale_channels(st["out"], w)
    widths = None if st["widths"] is None else _widths(f"{key}.widths", st["widths"], w)
    slots = []
    for j in range(st["hi"]):
        cin, stride = (in_ch, st["stride"]) if j == 0 else (out, 1)
        cands = {name: _candidate(f"{key}.candidates[{k}]", text, out, stride, widths, w)
                 for k, (name, text) in enumerate(st["candidates"].items())}
        slots.append(Slot(label=slot_label(i, j), stage=i, index=j, in_ch=cin, out_ch=out, stride=stride,
                          candidates=cands, widths=widths, optional=j >= st["lo"]))
    return tuple(slots)


def _check_candidates(space: SearchSpace) -> None:
    """Build every candidate at every slot, at its extreme widths, so that channel errors surface at load."""
    for slot in space.slots():
        for k, name in enumerate(slot.candidates):
            for width in (None,) if slot.widths is None else (slot.widths[0], slot.widths[-1]):
                block = space.block_for(slot, {slot.op_label: name, slot.width_label: width})
                try:
                    ArchSpec(stem=StemSpec(out=slot.in_ch), stages=((block,),), se_mode=space.se_mode)
                except ValueError as e:
                    _fail(f"stages[{slot.stage}].candidates[{k}]", f"at block {slot.index}: {e}")


def space_from_dict(data: Any, name: str = "yaml", input_size: int = 224, in_channels: int = 3,
                    num_classes: int = 1000, width_mult: float = 1.0) -> SearchSpace:
    """The space a parsed YAML mapping describes (see the module docstring); ``name`` if it names none."""
    geometry = check_geometry(input_size, in_channels, num_classes, width_mult)
    w = geometry.width_mult
    _keys("", data, TOP_KEYS, {"stem", "stages"})
    opts = _options(data, w)
    prefix = _fixed_stages("prefix", data.get("prefix", []), w)
    suffix = _fixed_stages("suffix", data.get("suffix", []), w)
    if not isinstance(data["stages"], list) or not data["stages"]:
        _fail("stages", "expected a non-empty list of stages")
    stages = [_stage(f"stages[{i}]", st, opts["named"]) for i, st in enumerate(data["stages"])]
    stem, prefix, suffix = _adapt_strides(input_size, opts["stem"], prefix, stages, suffix)
    in_ch = prefix[-1][-1].out if prefix else stem.out
    slots = []
    for i, st in enumerate(stages):
        slots.append(_slots(i, st, in_ch, w))
        in_ch = slots[-1][0].out_ch
    space = SearchSpace(
        name=_str("name", data.get("name", name)), geometry=geometry, stem=stem, slots_by_stage=tuple(slots),
        head=opts["head"], act=opts["act"], se_mode=opts["se_mode"], prefix=tuple(tuple(st) for st in prefix),
        suffix=tuple(tuple(st) for st in suffix), min_depth={i: st["lo"] for i, st in enumerate(stages)
                                                             if st["lo"] < st["hi"]},
        description=_str("description", data["description"]) if "description" in data else "",
    )
    _check_candidates(space)
    return checked(space)


def load_yaml_space(path: str | Path, input_size: int = 224, in_channels: int = 3, num_classes: int = 1000,
                    width_mult: float = 1.0) -> SearchSpace:
    """Read a YAML space file; its name defaults to the file name."""
    import yaml  # pyyaml: imported only when a YAML space is used

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"space file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: invalid YAML: {str(e).splitlines()[0]}") from None
    try:
        return space_from_dict(data, path.stem, input_size, in_channels, num_classes, width_mult)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None

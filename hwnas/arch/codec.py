"""Text and JSON forms of an ArchSpec, strict in both directions.

One line holds a whole network::

    act=re se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | ir_r1_k3_s2_e6_c24 ir_r2_k3_s1_e1_c24 | ... | head

Segments are separated by `` | ``: first the options (default activation and SE convention), then the stem, then
one segment per stage with its blocks separated by spaces, then the head. Blocks use timm's grammar
(``ir_r1_k5_s2_e3_c24_nre_se0.25``) with the hwnas extensions documented in :mod:`hwnas.arch.spec`, and literal
widths: ``c`` as written and an expanded width ``round(in * e)``, where timm rounds both to multiples of 8 (the
list form, :mod:`hwnas.arch.listform`, writes timm's widths explicitly):

============  =============================================  ==========================================
token         meaning                                        example
============  =============================================  ==========================================
``r<int>``    repeats (only the first carries the stride)    ``r2``
``k<odd>``    kernel                                         ``k5``
``s<1|2>``    stride                                         ``s2``
``e<num>``    expansion ratio                                ``e6``, ``e2.5``
``c<int>``    output channels                                ``c24``
``m<int>``    explicit mid width (TF-NAS)                    ``m83``
``g<int>``    groups of both 1x1 convs + shuffle (FBNet)     ``g2``
``se<num>``   squeeze-excite ratio                           ``se0.25``
``sec<int>``  squeeze-excite width (TF-NAS)                  ``sec32``
``w<num>``    SPOS mid-channel scale                         ``w1.4``
``n<act>``    activation: ``nre`` ``nr6`` ``nhs`` ``nsw``     ``nre``
``noskip``    no residual connection                         ``noskip``
``d<num>``    head dropout                                   ``d0.2``
``nobias``    classifier without bias (head only)            ``nobias``
============  =============================================  ==========================================

Canonical strings (what :func:`encode` writes) round-trip exactly: ``encode(decode(s)) == s``. Tokens may come
in any order on input; every malformed input raises ``ValueError`` naming the token and what would be valid.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hwnas.arch.spec import ACTIVATIONS, SE_MODES, ArchSpec, BlockSpec, HeadSpec, StemSpec, block_kind

JSON_FORMAT = "hwnas-arch"
JSON_VERSION = 1

_NUMBER = re.compile(r"^(?:\d+|\d+\.\d+|\.\d+)$")
_KEYED = re.compile(r"^(sec|se|r|k|s|e|c|m|g|w|d)(.*)$")
_ACT_TOKENS = {f"n{a}": a for a in ACTIVATIONS}
_FIELD_OF = {"r": "repeats", "k": "kernel", "s": "stride", "e": "exp", "c": "out", "m": "mid", "g": "groups",
             "se": "se", "sec": "se_channels", "w": "scale", "d": "dropout"}
_INT_KEYS = {"r", "k", "s", "c", "m", "g", "sec"}
_TOKEN_HELP = ("valid tokens: r<int> k<odd> s<1|2> e<num> c<int> m<int> g<int> se<num> sec<int> w<num> "
               "nre nr6 nhs nsw noskip")


def fmt_number(value: float) -> str:
    """Shortest text that reads back as the same number: 6.0 -> '6', 0.25 -> '0.25'."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _parse_value(token: str, key: str, raw: str, where: str) -> int | float:
    if not _NUMBER.match(raw):
        raise ValueError(f"{where}: token {token!r} needs a non-negative number after {key!r}; {_TOKEN_HELP}")
    if key in _INT_KEYS:
        if "." in raw:
            raise ValueError(f"{where}: token {token!r}: {key!r} takes a whole number")
        return int(raw)
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"{where}: token {token!r} is not a finite number")
    return value


def _parse_tokens(text: str, tokens: list[str], where: str, flags: set[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}

    def put(name: str, value: Any, token: str) -> None:
        if name in fields:
            raise ValueError(f"{where}: {name!r} given twice (token {token!r})")
        fields[name] = value

    for token in tokens:
        if not token:
            raise ValueError(f"{where}: empty token (doubled '_' or trailing '_')")
        if token in _ACT_TOKENS:
            put("act", _ACT_TOKENS[token], token)
        elif token in flags:
            put(token, True, token)
        elif m := _KEYED.match(token):
            key, raw = m.group(1), m.group(2)
            put(_FIELD_OF[key], _parse_value(token, key, raw, where), token)
        else:
            raise ValueError(f"{where}: unknown token {token!r}; {_TOKEN_HELP}")
    return fields


def _construct(cls: type, fields: dict[str, Any], where: str) -> Any:
    try:
        return cls(**fields)
    except TypeError as e:  # a field the class does not take, e.g. 'scale' on the stem
        raise ValueError(f"{where}: {e}") from None
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


_TOKEN_OF = {v: k for k, v in _FIELD_OF.items()}


def decode_block(text: str) -> BlockSpec:
    """Parse one block string such as ``ir_r1_k5_s2_e3_c24_nre_se0.25``."""
    where = f"block {text!r}"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: empty block string")
    kind, *tokens = text.strip().split("_")
    try:
        required = block_kind(kind).required
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    fields = _parse_tokens(text, tokens, where, flags={"noskip"})
    missing = [f"{_TOKEN_OF[f]} ({f})" for f in required if f not in fields]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if "dropout" in fields:
        raise ValueError(f"{where}: 'd' (dropout) belongs to the head")
    return _construct(BlockSpec, {"type": kind, **fields}, where)


def encode_block(block: BlockSpec) -> str:
    """Canonical string of a block: type, r, k, s, e, c, m, g, w, n<act>, se/sec, noskip."""
    kind = block.kind
    parts = [block.type]
    if kind.has_kernel:
        parts.append(f"r{block.repeats}")
        parts.append(f"k{block.kernel}")
    elif block.repeats != 1:
        parts.append(f"r{block.repeats}")
    parts.append(f"s{block.stride}")
    if kind.has_exp:
        parts.append(f"e{fmt_number(block.exp)}")
    parts.append(f"c{block.out}")
    if block.mid is not None:
        parts.append(f"m{block.mid}")
    if block.groups != 1:
        parts.append(f"g{block.groups}")
    if block.scale is not None:
        parts.append(f"w{fmt_number(block.scale)}")
    if block.act is not None:
        parts.append(f"n{block.act}")
    if block.se:
        parts.append(f"se{fmt_number(block.se)}")
    if block.se_channels is not None:
        parts.append(f"sec{block.se_channels}")
    if block.noskip:
        parts.append("noskip")
    return "_".join(parts)


def decode_stem(text: str) -> StemSpec:
    where = f"stem {text!r}"
    kind, *tokens = text.strip().split("_")
    if kind != "stem":
        raise ValueError(f"{where}: the segment after the options must be the stem, e.g. 'stem_k3_s2_c16'")
    fields = _parse_tokens(text, tokens, where, flags=set())
    if "out" not in fields:
        raise ValueError(f"{where}: missing c (out channels)")
    extra = set(fields) - {"kernel", "stride", "out", "act"}
    if extra:
        raise ValueError(f"{where}: the stem takes only k, s, c and n<act>; got {sorted(extra)}")
    return _construct(StemSpec, fields, where)


def encode_stem(stem: StemSpec) -> str:
    act = f"_n{stem.act}" if stem.act else ""
    return f"stem_k{stem.kernel}_s{stem.stride}_c{stem.out}{act}"


def decode_head(text: str) -> HeadSpec:
    where = f"head {text!r}"
    kind, *tokens = text.strip().split("_")
    if kind != "head":
        raise ValueError(f"{where}: the last segment must be the head, e.g. 'head' or 'head_c1280'")
    fields = _parse_tokens(text, tokens, where, flags={"nobias"})
    extra = set(fields) - {"out", "act", "dropout", "nobias"}
    if extra:
        raise ValueError(f"{where}: the head takes only c, n<act>, d and nobias; got {sorted(extra)}")
    head = {"features": fields.get("out"), "act": fields.get("act"), "dropout": fields.get("dropout", 0.0),
            "fc_bias": not fields.get("nobias", False)}
    return _construct(HeadSpec, head, where)


def encode_head(head: HeadSpec) -> str:
    parts = ["head"]
    if head.features is not None:
        parts.append(f"c{head.features}")
    if head.act is not None:
        parts.append(f"n{head.act}")
    if head.dropout:
        parts.append(f"d{fmt_number(head.dropout)}")
    if not head.fc_bias:
        parts.append("nobias")
    return "_".join(parts)


def _decode_options(text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        if not sep or key not in ("act", "se"):
            raise ValueError(f"options {text!r}: unknown option {item!r}; valid: act=<{'|'.join(ACTIVATIONS)}> "
                             f"se=<{'|'.join(SE_MODES)}>")
        if key in options:
            raise ValueError(f"options {text!r}: {key!r} given twice")
        options[key] = value
    missing = {"act", "se"} - set(options)
    if missing:
        raise ValueError(f"options {text!r}: missing {sorted(missing)}, e.g. 'act=re se=in'")
    return options


def decode(text: str) -> ArchSpec:
    """Parse the one-line form of a whole network."""
    if not isinstance(text, str):
        raise ValueError(f"architecture text must be a string, got {type(text).__name__}")
    segments = [s.strip() for s in text.strip().split("|")]
    if len(segments) < 4:
        raise ValueError(
            f"architecture {text!r}: expected 'OPTIONS | STEM | STAGE | ... | HEAD' (at least one stage), "
            f"e.g. 'act=re se=in | stem_k3_s2_c16 | ir_r1_k3_s1_e1_c16 | head'"
        )
    options = _decode_options(segments[0])
    stem = decode_stem(segments[1])
    head = decode_head(segments[-1])
    stages = []
    for i, segment in enumerate(segments[2:-1]):
        if not segment:
            raise ValueError(f"architecture: stage {i} is empty")
        stages.append(tuple(decode_block(b) for b in segment.split()))
    return _construct(ArchSpec, {"stem": stem, "stages": tuple(stages), "head": head, "act": options["act"],
                                 "se_mode": options["se"]}, "architecture")


def encode(spec: ArchSpec) -> str:
    """Canonical one-line form of a network."""
    stages = [" ".join(encode_block(b) for b in stage) for stage in spec.stages]
    return " | ".join([f"act={spec.act} se={spec.se_mode}", encode_stem(spec.stem), *stages, encode_head(spec.head)])


def to_dict(spec: ArchSpec) -> dict[str, Any]:
    """JSON-ready form: block strings per stage, plus the one-line text for people."""
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "act": spec.act,
        "se_mode": spec.se_mode,
        "stem": encode_stem(spec.stem),
        "stages": [[encode_block(b) for b in stage] for stage in spec.stages],
        "head": encode_head(spec.head),
        "text": encode(spec),
    }


_DICT_KEYS = {"format", "version", "act", "se_mode", "stem", "stages", "head", "text"}


def from_dict(data: Any) -> ArchSpec:
    """Inverse of :func:`to_dict`; unknown keys, a wrong format or a text that disagrees are errors."""
    if not isinstance(data, dict):
        raise ValueError(f"architecture JSON must be an object, got {type(data).__name__}")
    unknown = set(data) - _DICT_KEYS
    if unknown:
        raise ValueError(f"architecture JSON: unknown keys {sorted(unknown)}; valid keys are {sorted(_DICT_KEYS)}")
    if data.get("format") != JSON_FORMAT or data.get("version") != JSON_VERSION:
        raise ValueError(f"architecture JSON: expected format {JSON_FORMAT!r} version {JSON_VERSION}, got "
                         f"{data.get('format')!r} version {data.get('version')!r}")
    for key in ("act", "se_mode", "stem", "head"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"architecture JSON: {key!r} must be a string")
    stages = data.get("stages")
    if not isinstance(stages, list) or not all(isinstance(s, list) and all(isinstance(b, str) for b in s)
                                               for s in stages):
        raise ValueError("architecture JSON: 'stages' must be a list of lists of block strings")
    text = " | ".join([f"act={data['act']} se={data['se_mode']}", data["stem"], *(" ".join(s) for s in stages),
                       data["head"]])
    spec = decode(text)
    if "text" in data and data["text"] != encode(spec):
        raise ValueError("architecture JSON: 'text' does not match the structured fields")
    return spec


def dumps(spec: ArchSpec) -> str:
    return json.dumps(to_dict(spec), indent=2) + "\n"


def loads(text: str) -> ArchSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"architecture JSON is malformed: {e}") from None
    return from_dict(data)

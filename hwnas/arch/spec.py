"""Architecture values: one discrete network as frozen dataclasses (no torch).

An :class:`ArchSpec` is a stem, a tuple of stages (each a tuple of :class:`BlockSpec`), and a head. The block
vocabulary follows timm's EfficientNet/MobileNet block grammar (``ir``, ``ds``, ``dsa``, ``cn``), extended with
what the hwnas spaces need:

* ``g`` groups on both 1x1 convs of an ``ir`` block plus a channel shuffle (FBNet, Wu et al. 2019, Table 2),
* ``skip`` (the FBNet "skip" candidate: identity, or a 1x1 projection when the shape changes),
* ``shuffle`` and ``xception`` ShuffleNetV2 choice blocks with a mid-channel scale ``w`` (SPOS, Guo et al. 2019),
* an explicit mid width ``m`` (TF-NAS elasticity-scaled widths, Hu et al. 2020) and explicit SE width ``sec``.

Every field is checked when a spec is made, so an invalid network cannot exist as a value: the constructors raise
``ValueError`` naming the field, the bad value and what is valid.

This module names no block type. What a type allows and how wide it is inside comes from its :class:`BlockKind`,
which the type's package in :mod:`hwnas.blocks` registers (``hwnas`` registers the built-in types on import).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

ACTIVATIONS = ("re", "r6", "hs", "sw")
"""ReLU, ReLU6, hard-swish, swish/SiLU (timm's short names)."""

SE_MODES = ("in", "exp")
"""How an ``se<ratio>`` is turned into a width and which gate it uses (see :mod:`hwnas.arch.resolve`).

``in``: MnasNet/EfficientNet convention: reduced width ``round(block_in * ratio)``, block activation, sigmoid gate.
``exp``: MobileNetV3/HardCoRe convention: reduced width ``make_divisible(mid * ratio, 8)``, ReLU, hard-sigmoid gate.
"""

def _fail(where: str, msg: str) -> None:
    raise ValueError(f"{where}: {msg}")


# Upper bounds keep a typo such as r1000000 from building a network that exhausts memory.
MAX_CHANNELS = 65536
MAX_REPEATS = 64
MAX_KERNEL = 31


def _check_int(where: str, name: str, value: object, minimum: int = 1, maximum: int = MAX_CHANNELS) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        _fail(where, f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")


def check_positive(where: str, name: str, value: object) -> None:
    """Raise ``ValueError`` at ``where`` unless ``value`` is a positive number (not a bool, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        _fail(where, f"{name} must be a positive number, got {value!r}")


def _check_act(where: str, act: str | None, allow_none: bool = True) -> None:
    if act is None and allow_none:
        return
    if act not in ACTIVATIONS:
        _fail(where, f"activation {act!r} is not one of {', '.join(ACTIVATIONS)}")


def _check_kernel(where: str, kernel: object) -> None:
    _check_int(where, "kernel (k)", kernel, maximum=MAX_KERNEL)
    if kernel % 2 == 0:  # type: ignore[operator]
        _fail(where, f"kernel (k) must be odd (1, 3, 5, 7, ...) so padding keeps the grid aligned, got k{kernel}")


def _check_stride(where: str, stride: object) -> None:
    if stride not in (1, 2) or isinstance(stride, bool):
        _fail(where, f"stride (s) must be 1 or 2, got s{stride!r}")


@dataclass(frozen=True)
class BlockSpec:
    """One block (or ``repeats`` identical blocks, the first carrying ``stride``) of a stage.

    Only ``type`` and ``out`` have no default. Fields a type does not use must keep their defaults.
    """

    type: str
    out: int  # output channels (c)
    kernel: int = 3  # depthwise / conv kernel (k)
    stride: int = 1  # stride of the first repeat (s)
    repeats: int = 1  # r
    exp: float = 1.0  # expansion ratio (e): mid = round(in * exp) unless `mid` is given
    mid: int | None = None  # explicit mid width (m), TF-NAS elastic widths
    groups: int = 1  # groups of both 1x1 convs + channel shuffle (g), FBNet g2 candidates
    se: float = 0.0  # squeeze-excite ratio (se); interpretation set by ArchSpec.se_mode
    se_channels: int | None = None  # explicit squeeze-excite width (sec), TF-NAS
    act: str | None = None  # None: the architecture's default activation
    scale: float | None = None  # SPOS mid-channel scale (w): mid = int(out // 2 * scale)
    noskip: bool = False  # disable the residual even where shapes allow it

    def __post_init__(self) -> None:
        where = f"block {self.type!r}"
        if self.type not in _kinds():
            _fail(where, f"unknown block type; valid types are {', '.join(_kinds())}")
        _check_int(where, "out channels (c)", self.out)
        _check_int(where, "repeats (r)", self.repeats, maximum=MAX_REPEATS)
        _check_stride(where, self.stride)
        _check_kernel(where, self.kernel)
        check_positive(where, "expansion (e)", self.exp)
        _check_int(where, "groups (g)", self.groups, maximum=1024)
        _check_act(where, self.act)
        self._check_type_fields(where)

    def _check_type_fields(self, where: str) -> None:
        used = {
            "exp": self.exp != 1.0,
            "mid": self.mid is not None,
            "groups": self.groups != 1,
            "se": self.se != 0.0,
            "se_channels": self.se_channels is not None,
            "act": self.act is not None,
            "scale": self.scale is not None,
            "noskip": self.noskip,
        }
        kind = _kinds()[self.type]
        extra = sorted(k for k, on in used.items() if on and k not in kind.fields)
        if extra:
            _fail(where, f"fields {extra} are not valid for this type; it takes {sorted(kind.fields)}")
        if self.mid is not None:
            _check_int(where, "mid width (m)", self.mid)
        if self.se_channels is not None:
            _check_int(where, "SE width (sec)", self.se_channels)
            if self.se:
                _fail(where, "give either an SE ratio (se) or an SE width (sec), not both")
        if self.se and not (0 < self.se <= 1):
            _fail(where, f"SE ratio must be in (0, 1], got {self.se!r}")
        kind.check(self, where)

    @property
    def kind(self) -> BlockKind:
        """What this block's type declares (:class:`BlockKind`, registered by :mod:`hwnas.blocks`)."""
        return _kinds()[self.type]

    @property
    def has_se(self) -> bool:
        return bool(self.se) or self.se_channels is not None


def check_groups(block: BlockSpec, where: str, in_ch: int, mid: int) -> None:
    """Grouped 1x1 convs (FBNet ``g2``) need every width they touch divisible by the groups."""
    bad = [n for n, v in (("input", in_ch), ("mid", mid), ("output", block.out)) if v % block.groups]
    if bad:
        raise ValueError(
            f"{where}: group conv g{block.groups} needs input ({in_ch}), mid ({mid}) and output "
            f"({block.out}) channels divisible by {block.groups}; {', '.join(bad)} are not"
        )


@dataclass(frozen=True)
class StemSpec:
    """The first conv-BN-act of the network."""

    out: int
    kernel: int = 3
    stride: int = 2
    act: str | None = None

    def __post_init__(self) -> None:
        _check_int("stem", "out channels (c)", self.out)
        _check_kernel("stem", self.kernel)
        _check_stride("stem", self.stride)
        _check_act("stem", self.act)


@dataclass(frozen=True)
class HeadSpec:
    """Global average pool, an optional 1x1 conv with bias and no BN (MobileNetV3 style), dropout, classifier.

    A pre-pool 1x1 conv-BN-act (MobileNetV2, FBNet, MnasNet heads) is written as a ``cn`` block in the last stage,
    so that it is counted and timed like any other block.
    """

    features: int | None = None  # width of the post-pool 1x1 conv; None = no such conv
    act: str | None = None  # activation after the post-pool conv; None = architecture default
    dropout: float = 0.0
    fc_bias: bool = True

    def __post_init__(self) -> None:
        if self.features is not None:
            _check_int("head", "features (c)", self.features)
        _check_act("head", self.act)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            _fail("head", f"dropout (d) must be in [0, 1), got {self.dropout!r}")
        if self.act is not None and self.features is None:
            _fail("head", "an activation needs a post-pool conv width (c)")


@dataclass(frozen=True)
class ArchSpec:
    """A whole network: stem, stages of blocks, head, default activation and SE convention."""

    stem: StemSpec
    stages: tuple[tuple[BlockSpec, ...], ...]
    head: HeadSpec = field(default_factory=HeadSpec)
    act: str = "re"
    se_mode: str = "in"

    def __post_init__(self) -> None:
        _check_act("arch", self.act, allow_none=False)
        if self.se_mode not in SE_MODES:
            _fail("arch", f"se mode {self.se_mode!r} is not one of {', '.join(SE_MODES)}")
        if not isinstance(self.stages, tuple) or not self.stages:
            _fail("arch", "needs a non-empty tuple of stages")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, tuple) or not stage:
                _fail("arch", f"stage {i} must be a non-empty tuple of blocks")
            for block in stage:
                if not isinstance(block, BlockSpec):
                    _fail("arch", f"stage {i} holds {type(block).__name__}, expected BlockSpec")
        # Channel compatibility (groups, shuffle splits) is a property of the whole chain: check it here so
        # that an ArchSpec value is always buildable.
        for s, index, block, in_ch, stride in self.walk():
            where = f"stage {s} block {index} ({block.type}, {in_ch}->{block.out})"
            mid = block.kind.mid_width(block, in_ch)
            if block.groups > 1:
                check_groups(block, where, in_ch, mid)
            block.kind.check_channels(block, where, in_ch, mid, stride)

    def blocks(self) -> tuple[BlockSpec, ...]:
        """All blocks of all stages in order (repeats not expanded)."""
        return tuple(b for stage in self.stages for b in stage)

    def walk(self) -> Iterator[tuple[int, int, BlockSpec, int, int]]:
        """``(stage, index, block, in_ch, stride)`` of every layer in order, repeats expanded: ``index`` counts
        expanded repeats within the stage, and only the first repeat of a block carries its stride."""
        in_ch = self.stem.out
        for s, stage in enumerate(self.stages):
            index = 0
            for block in stage:
                for r in range(block.repeats):
                    yield s, index, block, in_ch, block.stride if r == 0 else 1
                    in_ch = block.out
                    index += 1


# ---------------------------------------------------------------------------------------------- block kinds
class BlockKind:
    """What the spec layer needs to know of one block type: its grammar, its own checks, its widths.

    One subclass per type lives in :mod:`hwnas.blocks` (with the type's module, counts, table key and supernet
    behaviour) and is registered there with :func:`register_kind`; this layer names no type. The defaults describe
    a block without a mid width, a residual or an elastic width.
    """

    name: str = ""
    fields: frozenset[str] = frozenset()
    """Optional :class:`BlockSpec` fields the type may set (``exp``, ``mid``, ``groups``, ``se``, ...)."""
    required: tuple[str, ...] = ("repeats", "kernel", "stride", "out")
    """Fields its text must give (codec tokens ``r``, ``k``, ``s``, ``c``, ...)."""
    has_kernel: bool = True  # written with ``r`` and ``k`` (a skip has no kernel)
    has_exp: bool = False  # written with ``e``
    width_field: str | None = None
    """The field an elastic width dimension sets (``mid`` or ``scale``); ``None``: no elastic width."""
    width_free: bool = False  # no width at all: an elastic stage may offer it, its width dimension is moot
    keeps_downsampling: bool = False  # its stride 2 may not be relaxed for small inputs (it is where a stage widens)

    def check(self, block: BlockSpec, where: str) -> None:
        """Raise ``ValueError`` at ``where`` for a field value this type does not take."""

    def mid_width(self, block: BlockSpec, in_ch: int) -> int:
        """The block's inner width (expanded, depthwise or main-branch) when it reads ``in_ch`` channels."""
        return block.out

    def check_channels(self, block: BlockSpec, where: str, in_ch: int, mid: int, stride: int) -> None:
        """Raise ``ValueError`` at ``where`` if the block cannot read ``in_ch`` channels at ``stride``."""

    def residual(self, block: BlockSpec, in_ch: int, stride: int) -> bool:
        """Whether the block adds its input to its output (decided here, once, for the builder and every cost)."""
        return False


_KINDS: dict[str, BlockKind] = {}
BUILTIN_TYPES = "hwnas.blocks.registry"
"""The module whose import registers the built-in block types."""


def _kinds() -> dict[str, BlockKind]:
    """The registered kinds, the built-in ones loaded on first need.

    The built-in types live a layer above this one (:mod:`hwnas.blocks` imports the spec), so the spec cannot
    import them; it loads their registry by name the first time a type is looked up, as a plugin is loaded. Code
    that never reads a spec (the device runner) never loads them.
    """
    if BUILTIN_TYPES not in sys.modules:
        importlib.import_module(BUILTIN_TYPES)
    return _KINDS


def register_kind(kind: BlockKind) -> BlockKind:
    """Make ``kind`` the meaning of block type ``kind.name`` (called by :mod:`hwnas.blocks.registry`)."""
    if not kind.name or kind.name in _KINDS:
        raise ValueError(f"block type {kind.name!r} is already registered or has no name")
    _KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Forget block type ``name`` (a type registered for a test or an experiment); no error if it is unknown."""
    _KINDS.pop(name, None)


def block_kind(name: str) -> BlockKind:
    """The registered kind of block type ``name``; ``ValueError`` naming the valid types if there is none."""
    kinds = _kinds()
    if name not in kinds:
        raise ValueError(f"unknown block type {name!r}; valid types are {', '.join(kinds)}")
    return kinds[name]


def kind_names() -> tuple[str, ...]:
    """The registered block types, in registration order (the grammar's order)."""
    return tuple(_kinds())

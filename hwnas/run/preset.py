"""The configuration of ``hwnas run``: a YAML preset, ``--set key=value`` overrides, strict validation.

A preset is a YAML mapping with the sections of :class:`RunConfig` (every key optional: the defaults below make
a sensible run). Loading is strict, because a typo in a preset that silently falls back to a default costs a
user a day of compute: an unknown key, a value of the wrong type or out of range is a ``ValueError`` naming the
key (``search.method``), the file and what is allowed. ``--set search.settings.epochs=3`` overrides any key
(values are YAML scalars). The resolved configuration (preset + overrides + defaults) is written beside the
outputs as ``config.yaml`` and is what a rerun compares against to decide which stages to redo.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from hwnas.cost.latency.backends import backend_names
from hwnas.search.budgets import BUDGET_KINDS, Budgets
from hwnas.settings import set_dotted

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"
SAMPLERS = ("uniform", "spread", "mixed")
FORMATS = ("onnx", "torchscript")


@dataclass
class TargetConfig:
    """The device the budget is for: how latency is measured (table and final check alike)."""

    backend: str = "onnxruntime"  # a latency backend: hwnas.cost.latency.backends.backend_names()
    threads: int = 1
    batch_size: int = 1


class _BudgetSection:
    """What the ``budgets`` section does besides holding its limits."""

    def to_budgets(self, max_latency_ms: float | None) -> Budgets:
        """The search's :class:`~hwnas.search.budgets.Budgets`, with the latency limit resolved to ms."""
        limits = {kind.name: getattr(self, kind.name) for kind in BUDGET_KINDS}
        return Budgets(**{**limits, "max_latency_ms": max_latency_ms})


def _budget_fields() -> list[tuple[str, Any, Any]]:
    fields = []
    for kind in BUDGET_KINDS:
        fields.append((kind.name, float | None, field(default=None)))
        if kind.name == "max_latency_ms":  # absolute, on the target; the relative form sits beside it:
            # the fraction of the way from the space's lightest to its heaviest network's predicted latency.
            # Presets use it so that they mean the same on any machine; ignored when max_latency_ms is set.
            fields.append(("latency_fraction", float | None, field(default=0.35)))
    return fields


BudgetConfig = make_dataclass("BudgetConfig", _budget_fields(), bases=(_BudgetSection,), namespace={
    "__module__": __name__, "__doc__": """Hard budgets of the search (any combination; at least one of the latency
    ones): one field per budget kind (:data:`hwnas.search.budgets.BUDGET_KINDS`) and ``latency_fraction``."""})


@dataclass
class LutConfig:
    """The latency table: reuse ``path`` or build one for the space at the dataset's geometry."""

    path: str | None = None  # an existing, matching table (checked); else built in OUT/lut/
    rounds: int = 50  # timed interleaved rounds per op
    passes: int = 3  # build passes (median per op)
    calibrate: int = 30  # whole networks the table is calibrated on (0: no calibration)
    sampler: str = "mixed"  # how they are drawn (see hwnas.cost.latency.sampled_nets.draw_choice)
    validate: int = 20  # other networks to validate on, for the report (0: none)


@dataclass
class SearchConfig:
    method: str = "spos"
    space: str = "fbnet"  # a built-in space or a YAML space file
    width_mult: float = 0.5
    limit: int | None = 6000  # training images for the search (None: all)
    batch_size: int = 128
    settings: dict[str, Any] = field(default_factory=dict)  # method settings by dotted name (hwnas search --set)
    # Closed loop on the latency budget: time the chosen network on the target before training it; if it is over
    # the budget, search again (from the trained supernet where the method has one) with the predicted budget
    # tightened by the measured excess, at most `retries` times.
    check_measured: bool = True
    retries: int = 2


@dataclass
class FinalistConfig:
    """The finalist stage (hwnas.search.finalists): the method's top candidates and the space's members closest
    to the reference networks, each moved into [0.9 B, 0.97 B] measured, trained in successive-halving rounds."""

    count: int = 4  # the method's top distinct candidates (0: train the search's choice, filled to the budget)
    references: list[str] = field(default_factory=lambda: ["mobilenetv2_100"])  # zoo networks whose closest
    # member of the space competes too (its depth scaled to the budget)
    epochs: list[int] = field(default_factory=lambda: [2, 4])  # successive-halving rounds: epochs per round
    limit: int | None = None  # training images per finalist training (None: all)
    fill: bool = True  # move every finalist into [0.9 B, 0.97 B] of the latency budget, measured on the target
    fill_rounds: int = 4  # measurements per finalist at most


@dataclass
class TrainConfigSection:
    """Training the winner from scratch with one fixed recipe (hwnas.workflows.train.train_arch)."""

    epochs: int = 3
    limit: int | None = None  # training (and test) images (None: all)
    batch_size: int = 128
    augment: bool = False  # short runs fit faster without augmentation (docs/BENCHMARKS.md)
    lr: float | None = None  # None: 0.1 x batch / 256 (SGD)


@dataclass
class ExportConfig:
    formats: list[str] = field(default_factory=lambda: ["onnx", "torchscript"])


@dataclass
class MeasureConfig:
    rounds: int = 100  # timed interleaved rounds of the exported model (and the references)
    warmup: int = 10
    # Passes of the search stage's measured check (hwnas.search.measured): each pass times the network and the
    # space's drift references alone; decisions need >= 3 (with fewer, an excess is measured again before it counts).
    passes: int = 3


@dataclass
class ReferenceConfig:
    """Reference networks drawn in the report's accuracy-latency figure (zoo names, adapted to the input)."""

    names: list[str] = field(default_factory=list)
    # zoo networks scaled in width and depth to the latency budget, the largest measured within it
    # (hwnas.scaled_references): the simple alternative the search has to beat, trained with the same recipe
    scaled: list[str] = field(default_factory=list)
    train: bool = True  # train each with the winner's recipe (else: latency only)


@dataclass
class RunConfig:
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    download: bool = False
    seed: int = 0
    device: str = "cpu"
    target: TargetConfig = field(default_factory=TargetConfig)
    budgets: BudgetConfig = field(default_factory=BudgetConfig)
    lut: LutConfig = field(default_factory=LutConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    finalists: FinalistConfig = field(default_factory=FinalistConfig)
    train: TrainConfigSection = field(default_factory=TrainConfigSection)
    export: ExportConfig = field(default_factory=ExportConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    references: ReferenceConfig = field(default_factory=ReferenceConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------------------------------ loading
def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        (inner,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_type_ok(v, inner) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    raise TypeError(f"unsupported config type {hint!r}")


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if origin is list:
        return f"a list of {_type_name(typing.get_args(hint)[0])}"
    if origin is dict:
        return "a mapping"
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def _build(cls: type, data: Any, prefix: str, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: {prefix.rstrip('.') or 'the preset'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key '{prefix}{unknown[0]}'; valid in "
                         f"{prefix.rstrip('.') or 'the preset'}: {', '.join(fields)}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value if value is not None else {}, f"{prefix}{name}.", where)
        elif not _type_ok(value, hint):
            raise ValueError(f"{where}: {prefix}{name} must be {_type_name(hint)}, got {value!r}")
        else:
            values[name] = float(value) if hint in (float, float | None) and isinstance(value, int) else value
    return cls(**values)


def _check(cfg: RunConfig, where: str) -> None:
    def fail(key: str, why: str) -> None:
        raise ValueError(f"{where}: {key} {why}")

    def choice(key: str, value: Any, allowed: tuple) -> None:
        if value not in allowed:
            fail(key, f"must be one of {', '.join(allowed)}, got {value!r}")

    def positive(key: str, value: Any, zero: bool = False) -> None:
        if value is not None and (value < 0 or (value == 0 and not zero)):
            fail(key, f"must be {'>= 0' if zero else '> 0'}, got {value!r}")

    choice("target.backend", cfg.target.backend, backend_names())
    from hwnas.search.registry import get_method, method_names

    choice("search.method", cfg.search.method, method_names())
    choice("lut.sampler", cfg.lut.sampler, SAMPLERS)
    for fmt in cfg.export.formats:
        choice("export.formats", fmt, FORMATS)
    for key in ("target.threads", "target.batch_size", "lut.rounds", "lut.passes", "search.batch_size",
                "search.limit", "train.epochs", "train.batch_size", "train.limit", "measure.rounds"):
        section, name = key.split(".")
        positive(key, getattr(getattr(cfg, section), name))
    for key in ("lut.calibrate", "lut.validate", "measure.warmup", "search.retries", "finalists.count"):
        section, name = key.split(".")
        positive(key, getattr(getattr(cfg, section), name), zero=True)
    b = cfg.budgets
    for kind in BUDGET_KINDS:
        positive(f"budgets.{kind.name}", getattr(b, kind.name))
    if b.latency_fraction is not None and not 0 < b.latency_fraction <= 1:
        fail("budgets.latency_fraction", f"must be in (0, 1], got {b.latency_fraction!r}")
    if (b.max_latency_ms is None and b.latency_fraction is None
            and get_method(cfg.search.method).needs_latency_target):
        fail("budgets", f"need max_latency_ms or latency_fraction for {cfg.search.method} (a latency target)")
    if 0 < cfg.lut.calibrate < 8:
        fail("lut.calibrate", f"needs 0 (no calibration) or at least 8 networks, got {cfg.lut.calibrate}")
    positive("search.width_mult", cfg.search.width_mult)
    if cfg.measure.passes < 1:
        fail("measure.passes", f"must be >= 1 (3 or more: the measured check decides on a median over passes), "
                               f"got {cfg.measure.passes!r}")
    positive("finalists.limit", cfg.finalists.limit)
    positive("finalists.fill_rounds", cfg.finalists.fill_rounds)
    if not cfg.finalists.epochs or any(e <= 0 for e in cfg.finalists.epochs):
        fail("finalists.epochs", f"must be a non-empty list of positive epochs, got {cfg.finalists.epochs!r}")
    from hwnas import zoo

    for key, names in (("finalists.references", cfg.finalists.references), ("references.scaled",
                                                                           cfg.references.scaled)):
        for name in names:
            if name not in zoo.ZOO:
                fail(key, f"has {name!r}, not a zoo network; valid: {', '.join(zoo.names())}")
    if cfg.references.scaled and b.max_latency_ms is None and b.latency_fraction is None:
        fail("references.scaled", "needs a latency budget (budgets.max_latency_ms or latency_fraction)")
    try:  # the method's own settings, checked now rather than after the latency table is built
        get_method(cfg.search.method).config(cfg.search.settings)
    except ValueError as e:
        fail("search.settings", f"do not fit {cfg.search.method}: {e}")


def resolve_preset(name: str | Path) -> Path:
    """A preset name (``quick``: ``hwnas/presets/quick.yaml``) or a YAML file path."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"preset file {path} does not exist")
        return path
    candidate = PRESETS_DIR / f"{name}.yaml"
    if not candidate.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise ValueError(f"unknown preset {name!r}; built-in: {', '.join(known)} (or give a YAML file)")
    return candidate


def load_config(preset: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """The preset (a name or a file; ``None``: the defaults) with ``overrides`` (dotted key -> value) applied."""
    import yaml

    data: dict[str, Any] = {}
    where = "defaults"
    if preset is not None:
        path = resolve_preset(preset)
        where = f"preset {preset}" if path.parent == PRESETS_DIR else f"preset {path}"
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ValueError(f"{where} is not valid YAML: {str(e).splitlines()[0]}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ValueError(f"{where} must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded or {}
    for key, value in (overrides or {}).items():
        set_dotted(data, key, value, keep_whole=("search.settings",))
    if overrides:
        where += " with --set " + ", ".join(overrides)
    cfg = _build(RunConfig, data, "", where)
    _check(cfg, where)
    return cfg


def dump_config(cfg: RunConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=False)

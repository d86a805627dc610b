"""A tiny space and a fake timing backend for the latency tests.

The space (16 px, 3 slots) has everything a table must handle: a fixed stem, prefix, suffix and head conv; a
strided slot with skip projection and SE candidates; an optional slot (stage depth 1-2); an elastic slot with five
mid widths, of which a grid of three is timed and two are interpolated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwnas.arch import HeadSpec, StemSpec, decode_block
from hwnas.cost.latency.backends import Backend
from hwnas.space import SearchSpace, Slot, SpaceGeometry


def _slot(stage: int, index: int, in_ch: int, out: int, stride: int, candidates: dict[str, str],
          widths: tuple | None = None, optional: bool = False) -> Slot:
    return Slot(label=f"s{stage}_b{index}", stage=stage, index=index, in_ch=in_ch, out_ch=out, stride=stride,
                candidates={name: decode_block(text) for name, text in candidates.items()}, widths=widths,
                optional=optional)


def tiny_space(input_size: int = 16, se_mode: str = "in") -> SearchSpace:
    stages = (
        (_slot(0, 0, 8, 16, 2, {"skip": "skip_s2_c16", "k3": "ir_r1_k3_s2_e3_c16",
                                "k5_se": "ir_r1_k5_s2_e3_c16_se0.25"}),
         _slot(0, 1, 16, 16, 1, {"skip": "skip_s1_c16", "k3": "ir_r1_k3_s1_e3_c16"}, optional=True)),
        (_slot(1, 0, 16, 24, 1, {"k3": "ir_r1_k3_s1_e1_c24_m80", "k3_se": "ir_r1_k3_s1_e1_c24_m80_se0.25"},
               widths=(16, 32, 48, 64, 80)),),
    )
    return SearchSpace(
        name="tiny", geometry=SpaceGeometry(input_size, 3, 10), stem=StemSpec(out=8), slots_by_stage=stages,
        head=HeadSpec(features=40, act="hs"), act="re", se_mode=se_mode,
        prefix=((decode_block("ds_r1_k3_s1_c8"),),), suffix=((decode_block("cn_r1_k1_s1_c32"),),),
        min_depth={0: 1})


class FakeBackend(Backend):
    """Deterministic 'timing' that logs every call: a model times at (parameters + 1) / 1000 ms."""

    name = "fake"

    def __init__(self, threads: int = 1) -> None:
        super().__init__(threads)
        self.calls: list[str] = []  # the tag of every model run, in order
        self.prepared: list[Any] = []  # every model prepared

    def prepare(self, model: Any, input_shape: tuple[int, ...]) -> Callable[[], Any]:
        self.prepared.append(model)
        tag = getattr(model, "tag", f"m{len(self.prepared) - 1}")
        ms = (sum(p.numel() for p in model.parameters()) + 1) / 1000

        def run() -> float:
            self.calls.append(tag)
            return ms

        return run

    def time_call(self, run: Callable[[], Any], number: int = 1) -> float:
        return [run() for _ in range(number)][-1]

    def version(self) -> str:
        return "0"


def graph_measured(table: Any, specs: list, nulls: dict, features: dict, coef: tuple) -> Any:
    """Networks 'measured' exactly as the ``graph`` calibration models them, with known coefficients ``coef`` =
    ``(scale, node_ms, ms_per_mparam, ms_per_mconverted, offset_ms)``: a fit must recover them."""
    from hwnas.cost.latency.backends import device_info
    from hwnas.cost.latency.lookup import feature_lookup
    from hwnas.cost.latency.measured_nets import Measured
    from hwnas.cost.latency.overhead import io_key

    scale, node_ms, per_mparam, per_mconverted, offset = coef
    ms = []
    for spec in specs:
        ops = table.spec_ops(spec)
        corrected = sum(t - nulls[io_key(op)] for (_, t), op in zip(table.breakdown(spec), ops))
        f = [feature_lookup(op, features, table.families) for op in ops]
        ms.append(scale * corrected + node_ms * sum(v[0] for v in f) + per_mparam * sum(v[1] for v in f) / 1e6
                  + per_mconverted * sum(v[2] for v in f) / 1e6 + offset)
    return Measured(list(specs), ms, [0.01 * m for m in ms], "measured", device_info(), {"rounds": 1}, nulls)

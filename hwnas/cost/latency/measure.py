"""Time models honestly: warm-up, then interleaved rounds, then the median and the interquartile range.

:func:`time_models` is the one function in hwnas that times anything: the latency table times its ops with it, and
whole networks (``hwnas latency --measure``, calibration, validation) are timed with it too, so a prediction and
a measurement are always taken the same way.

Why interleaved rounds: on a shared machine the speed drifts (other jobs, frequency scaling, cache state) over
seconds. Timing A A A ... B B B ... lets a slow spell land on one model only; timing A B C A B C ... spreads it over
all of them, so that their *ratios* (what a latency table is used for) stay right even when the absolute level
moves. Medians ignore the occasional preempted call; the IQR reports the spread that remains.

``order="alone"`` times each model on its own instead (its warm-up, then its rounds, then the next model): how a
deployed network runs, with its weights and activations warm in cache. Interleaving evicts them between calls,
which costs a network of a few hundred kB of weights 30-60 % of its time at 28 px (docs/BENCHMARKS.md); a table
calibrated on networks timed alone predicts the deployed latency, at the price of being more exposed to drift
(pair it with several passes, :func:`hwnas.cost.latency.measured_nets.measure_here`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hwnas.arch.spec import ArchSpec
from hwnas.cost.latency.backends import Backend, get_backend
from hwnas.cost.lut_keys import OpSpec

DEFAULT_WARMUP = 10
DEFAULT_ROUNDS = 50
ORDERS = ("interleaved", "alone")


@dataclass(frozen=True)
class Timing:
    """The per-round times of one model, in milliseconds, and their median and interquartile range."""

    median_ms: float
    iqr_ms: float
    samples_ms: tuple[float, ...]

    @classmethod
    def from_samples(cls, samples: Sequence[float]) -> Timing:
        if not samples:
            raise ValueError("no timing samples")
        if len(samples) < 2:
            return cls(float(samples[0]), 0.0, tuple(samples))
        q1, q2, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        return cls(q2, q3 - q1, tuple(samples))


def check_count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _shapes(input_shapes: Any, n: int) -> list[tuple[int, ...]]:
    """One (C, H, W) for every model, or a list with one per model."""
    if input_shapes and all(isinstance(v, int) for v in input_shapes):
        return [tuple(input_shapes)] * n
    shapes = [tuple(s) for s in input_shapes]
    if len(shapes) != n:
        raise ValueError(f"{len(shapes)} input shapes for {n} models")
    return shapes


def time_models(
    models: Sequence[Any],
    backend: str | Backend = "onnxruntime",
    threads: int = 1,
    batch_size: int = 1,
    warmup: int = DEFAULT_WARMUP,
    rounds: int = DEFAULT_ROUNDS,
    *,
    input_shapes: Any,
    number: int = 1,
    order: str = "interleaved",
) -> list[Timing]:
    """Time every model on ``backend`` in interleaved rounds; one :class:`Timing` per model, in order.

    ``models`` are ``nn.Module`` s (or ONNX files for ``onnxruntime``); ``input_shapes`` is one per-image shape
    (C, H, W) for all or a list of them, the batch dimension ``batch_size`` is prepended. Every model is prepared
    first (exported, session made); then ``warmup`` untimed rounds and ``rounds`` timed rounds, each running the
    models in the given order, A B C A B C ...; a sample is the mean of ``number`` back-to-back calls.
    ``backend`` is a name (made with ``threads``) or a :class:`~hwnas.cost.latency.backends.Backend` instance (which
    carries its own thread count). ``order="alone"``: each model's warm-up and rounds back to back, one model
    after the other (the deployed situation; module docstring).
    """
    for name, value, minimum in (("batch_size", batch_size, 1), ("warmup", warmup, 0), ("rounds", rounds, 1),
                                 ("number", number, 1)):
        check_count(name, value, minimum)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    engine = get_backend(backend, threads)
    shapes = _shapes(input_shapes, len(models))
    with engine.activate():
        if order == "alone":  # one session alive at a time, as in a deployed process and a user's own loop
            return [_time_alone(engine, engine.prepare(m, (batch_size, *shape)), warmup, rounds, number)
                    for m, shape in zip(models, shapes)]
        runs = [engine.prepare(m, (batch_size, *shape)) for m, shape in zip(models, shapes)]
        for _ in range(warmup):
            for run in runs:
                run()
        samples: list[list[float]] = [[] for _ in runs]
        for _ in range(rounds):
            for i, run in enumerate(runs):
                samples[i].append(engine.time_call(run, number))
    return [Timing.from_samples(s) for s in samples]


def _time_alone(engine: Backend, run: Any, warmup: int, rounds: int, number: int) -> Timing:
    for _ in range(warmup):
        run()
    return Timing.from_samples([engine.time_call(run, number) for _ in range(rounds)])


# ------------------------------------------------------------------------------------------------ op modules
def op_module(op: OpSpec):
    """The ``nn.Module`` an op key names, freshly initialised (weights do not change the time of a dense op)."""
    from hwnas.arch.codec import decode_block, decode_head, decode_stem
    from hwnas.arch.resolve import resolve_block
    from hwnas.blocks.registry import create_block
    from hwnas.nn import ClassifierHead, ConvBnAct, init_weights

    c = op.in_shape[0]
    if op.kind == "stem":
        stem = decode_stem(op.text)
        module = ConvBnAct(c, stem.out, stem.kernel, stem.stride, act=stem.act)
    elif op.kind == "head":
        head = decode_head(op.text)
        module = ClassifierHead.from_spec(head, c, op.num_classes or 1000, head.act or "re")
    else:
        # Activations are explicit in a block key (ShuffleNetV2 units have none), so the network act is moot.
        module = create_block(resolve_block(decode_block(op.text), c, "re", op.se_mode or "in"))
    init_weights(module)
    return module.eval()


def measure_specs(
    specs: Sequence[ArchSpec],
    input_size: int,
    in_channels: int = 3,
    num_classes: int = 1000,
    backend: str | Backend = "onnxruntime",
    threads: int = 1,
    batch_size: int = 1,
    warmup: int = DEFAULT_WARMUP,
    rounds: int = DEFAULT_ROUNDS,
    order: str = "interleaved",
    passes: int | None = None,
) -> Any:
    """Time whole networks (``build_model`` of each spec), interleaved (or each ``alone``), with the same method
    as the table ops: a :class:`Timing` per network; with ``passes``, that many whole timings one after the other
    (each a new session per network), a list of them per pass, the networks exported once.

    Each network is timed as the backend deploys it (:meth:`~hwnas.cost.latency.backends.Backend.deployed`). The
    ONNX Runtime backends time the deployment export, the file ``hwnas export`` writes
    (:func:`hwnas.nn.deploy.deployed_onnx`: BatchNorm folded, symbolic batch axis), quantized as one graph for
    ``onnxruntime-int8`` as ``hwnas export --int8`` does: the measured latency is that of the file a user deploys,
    not of an in-memory graph with static shapes, which ran about 5 % faster at 32 px (docs/BENCHMARKS.md, issue
    20)."""
    import tempfile
    from pathlib import Path

    from hwnas.cost.latency.backends import backend_class
    from hwnas.nn import build_model

    models: list[Any] = [build_model(spec, num_classes, in_channels).eval() for spec in specs]
    shape = (in_channels, input_size, input_size)
    cls = type(backend) if isinstance(backend, Backend) else backend_class(backend)
    with tempfile.TemporaryDirectory() as scratch:
        models = [cls.deployed(model, Path(scratch) / f"net{i}.onnx", (batch_size, *shape))
                  for i, model in enumerate(models)]
        runs = [time_models(models, backend, threads, batch_size, warmup, rounds, input_shapes=shape, order=order)
                for _ in range(passes or 1)]
    return runs if passes is not None else runs[0]


def measure_as_tabled(provenance: dict[str, Any], specs: Sequence[ArchSpec], warmup: int | None = None,
                      rounds: int | None = None, order: str = "interleaved",
                      where: str = "latency table", passes: int | None = None) -> Any:
    """Time whole networks exactly as the ops of the table with ``provenance`` were timed (its backend, threads,
    batch, geometry, warm-up and rounds unless given); ``order="alone"`` times each on its own, as it runs
    deployed; ``passes``: per pass, as :func:`measure_specs`. A table imported from another device cannot be timed
    against here (``where`` names it)."""
    p, timing = provenance, provenance["timing"]
    if p.get("source") == "imported":  # timing here would compare this CPU with the device's table
        raise ValueError(f"{where} was measured on another device ({p['device'].get('cpu_model')}); time "
                         "networks there: `hwnas lut export-nets`, the runner, then --imported-results")
    warmup = timing.get("warmup", DEFAULT_WARMUP) if warmup is None else warmup
    rounds = timing.get("rounds", DEFAULT_ROUNDS) if rounds is None else rounds
    return measure_specs(specs, p["input_size"], p["in_channels"], p["num_classes"], p["backend"], p["threads"],
                         p["batch_size"], warmup, rounds, order=order, passes=passes)

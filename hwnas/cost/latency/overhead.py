"""The per-call overhead an op pays when timed alone, measured with "null" models of the same input and output.

An op timed alone in its own ONNX Runtime session pays what a whole network pays once: the call from Python into
the runtime, binding the input and copying the output back into a new numpy array (which grows with the output).
For every (input shape, output shape) of a table's ops, a *null model* takes that input and returns a tensor of
that output shape while computing nothing (slice one element, broadcast it): its time is that overhead. The
``overhead`` calibration (:mod:`hwnas.cost.latency.calibrate`) subtracts it from every op before the affine fit.

Within one FBNet-style space every network has the same op shapes (all candidates of a slot share them), so the
subtraction is a constant there and changes nothing an affine fit would not; it matters when the number or the
shapes of the ops vary: spaces with depth choice, and networks of other families (the zoo) predicted with a
calibration fitted on one space. Null models are written with the ``onnx`` helper API: no torch.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hwnas.arch.codec import decode_block, decode_stem
from hwnas.arch.resolve import conv_out_size
from hwnas.cost.lut_keys import OpSpec, parse_key


def out_shape(op: OpSpec) -> tuple[int, ...]:
    """The output shape (without the batch) of an op: C x H x W, or (classes,) for the head."""
    c, h, w = op.in_shape
    if op.kind == "head":
        return (op.num_classes or 1000,)
    spec = decode_stem(op.text) if op.kind == "stem" else decode_block(op.text)
    return (spec.out, conv_out_size(h, spec.stride), conv_out_size(w, spec.stride))


def io_key(op: OpSpec) -> str:
    """``"16x112x112>24x56x56"``: the shapes that decide an op's overhead (``"1280x7x7>1000"`` for a head)."""
    return "x".join(map(str, op.in_shape)) + ">" + "x".join(map(str, out_shape(op)))


def parse_io_key(key: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    try:
        left, right = key.split(">")
        shapes = tuple(int(v) for v in left.split("x")), tuple(int(v) for v in right.split("x"))
    except ValueError:
        raise ValueError(f"malformed overhead shape key {key!r}; expected e.g. '16x56x56>24x28x28'") from None
    if len(shapes[0]) != 3 or min(shapes[0] + shapes[1]) < 1:
        raise ValueError(f"malformed overhead shape key {key!r}; expected e.g. '16x56x56>24x28x28'")
    return shapes


def table_io_keys(keys: Iterable[str]) -> list[str]:
    """The distinct shape keys of the given op keys, in first-seen order."""
    return list(dict.fromkeys(io_key(parse_key(k)) for k in keys))


def null_model(key: str, batch_size: int = 1, opset: int = 17) -> bytes:
    """An ONNX model with the input and output shapes of ``key`` that computes nothing (slice, reshape, expand)."""
    import onnx
    from onnx import TensorProto, helper

    ins, outs = parse_io_key(key)
    ins, outs = (batch_size, *ins), (batch_size, *outs)

    def ints(name: str, values: tuple[int, ...]):
        return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))

    nodes = [helper.make_node("Slice", ["input", "starts", "ends"], ["one"]),  # one element: nothing to read
             helper.make_node("Reshape", ["one", "ones"], ["scalar"]),  # rank of the output
             helper.make_node("Expand", ["scalar", "shape"], ["output"])]  # the output tensor, as an op returns
    graph = helper.make_graph(
        nodes, "null", [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(ins))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(outs))],
        [ints("starts", (0,) * len(ins)), ints("ends", (1,) * len(ins)), ints("ones", (1,) * len(outs)),
         ints("shape", outs)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def measure_overheads(keys: Iterable[str], provenance: dict[str, Any], rounds: int | None = None) -> dict[str, float]:
    """Median ms of the null model of every shape key, timed like the table whose ``provenance`` is given."""
    from hwnas.cost.latency.backends import OnnxRuntimeBackend, backend_class
    from hwnas.cost.latency.measure import time_models

    if not backend_class(provenance["backend"]).has_null_models:
        raise ValueError(f"null models are ONNX: the overhead calibration needs an onnxruntime table, not "
                         f"{provenance['backend']!r} (use --kind affine)")
    keys, timing = list(keys), provenance["timing"]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, key in enumerate(keys):
            files.append(Path(tmp) / f"null_{i}.onnx")
            files[-1].write_bytes(null_model(key, provenance["batch_size"]))
        timings = time_models(files, OnnxRuntimeBackend.name, provenance["threads"], provenance["batch_size"],
                              timing.get("warmup", 10), rounds or timing.get("rounds", 50),
                              input_shapes=[parse_io_key(k)[0] for k in keys], number=timing.get("number", 1))
    return {k: round(t.median_ms, 6) for k, t in zip(keys, timings)}

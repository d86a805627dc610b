"""What a whole network executes of each op: its graph nodes, its weights and the layout conversions it does
not, the regressors of the ``graph`` calibration (:mod:`hwnas.cost.latency.calibrate`).

An op timed alone and the same op inside a network differ in two ways that the per-call overhead (null models,
:mod:`hwnas.cost.latency.overhead`) does not cover:

* **Layout conversions.** On x86, ONNX Runtime runs convolutions in a blocked channel layout (NCHWc) and wraps a
  graph's convolutions in ``ReorderInput`` / ``ReorderOutput`` nodes. An op timed alone pays one pair at its
  boundary; inside a network consecutive convolutions stay blocked and the pairs vanish, and so do the residual
  ``Add`` s that fuse into the convolution before them. What the network still runs of an op is its *executed
  nodes*: the nodes of its optimised graph less the boundary conversions and identities. Each costs a roughly
  fixed dispatch time, which dominates small inputs (a 32 px network runs ~100 nodes in ~2 ms).
* **Weights in cache.** An op timed alone in a loop finds its weights in cache every call; a network streams all
  of its weights once per inference, so its time grows with its parameter count beyond the ops' sum.

:func:`op_features` gets all three from the op's own ONNX graph as ONNX Runtime optimises it (with the
table's session settings): ``(executed nodes, parameters, converted elements)``. They are fixed properties of
each op key, so a correction linear in them keeps a table's prediction a sum over ops, and the expected
latency differentiable. An int8 table's ops (``onnxruntime-int8``) convert at their boundary by quantizing and
dequantizing instead: :mod:`hwnas.cost.latency.quantized_features` counts those.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from hwnas.cost.lut_keys import OpSpec, parse_key

LAYOUT_NODES = ("ReorderInput", "ReorderOutput")


def optimised_graph(model_bytes: bytes, threads: int = 1):
    """The ONNX graph ONNX Runtime runs for ``model_bytes`` with the table backend's session settings."""
    import onnx
    import onnxruntime as ort

    from hwnas.cost.latency.backends import OnnxRuntimeBackend

    options = OnnxRuntimeBackend(threads).session_options()
    with tempfile.TemporaryDirectory() as tmp:
        options.optimized_model_filepath = str(Path(tmp) / "optimised.onnx")
        ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        return onnx.load(options.optimized_model_filepath).graph


def executed_nodes(graph) -> int:
    """Nodes of an op's optimised graph that a network containing it still runs (see the module docstring)."""
    inputs = {v.name for v in graph.input}
    outputs = {v.name for v in graph.output}
    dropped = 0
    for node in graph.node:
        at_boundary = bool(inputs & set(node.input)) or bool(outputs & set(node.output))
        if node.op_type == "Identity" or (node.op_type in LAYOUT_NODES and at_boundary):
            dropped += 1
    return len(graph.node) - dropped


def converted_elements(graph, input_elements: int, output_elements: int) -> int:
    """Elements the boundary layout conversions of an op's optimised graph copy: the whole input for each
    ``ReorderInput`` reading the graph's input, the whole output for each ``ReorderOutput`` writing the graph's
    output. Conversions inside the op (around a channel shuffle) run in a network too and are not counted.

    Neither is the output conversion of a residual block, which feeds the block's ``Add`` rather than the
    output: in a network that ``Add`` is fused into the last convolution, which then reads the skip tensor in
    its place. On the 224 px FBNet measurements counting it made the fit worse (validation MAPE 1.9 vs 1.8 %,
    94 vs 96 % within +-5 %, docs/BENCHMARKS.md)."""
    inputs = {v.name for v in graph.input}
    outputs = {v.name for v in graph.output}
    total = 0
    for node in graph.node:
        if node.op_type == "ReorderInput" and inputs & set(node.input):
            total += input_elements
        elif node.op_type == "ReorderOutput" and outputs & set(node.output):
            total += output_elements
    return total


def op_features(op: OpSpec, batch_size: int = 1, threads: int = 1,
                backend: str = "onnxruntime") -> tuple[int, int, int]:
    """``(executed nodes, parameters, converted elements)`` of one op, as ``backend`` runs it: for a quantized
    backend, counted on the op's int8 graph as deployed (:mod:`hwnas.cost.latency.quantized_features`)."""
    import math

    from hwnas.cost.latency.backends import backend_class, onnx_bytes
    from hwnas.cost.latency.measure import op_module
    from hwnas.cost.latency.overhead import out_shape

    module = op_module(op)
    params = sum(p.numel() for p in module.parameters())
    shape = (batch_size, *op.in_shape)
    if backend_class(backend).quantized:
        from hwnas.cost.latency import quantized_features as counts

        graph = optimised_graph(counts.deployed_op(module, shape), threads)
        nodes_of, converted_of = counts.executed_nodes, counts.converted_elements
    else:
        graph = optimised_graph(onnx_bytes(module, shape), threads)
        nodes_of, converted_of = executed_nodes, converted_elements
    converted = converted_of(graph, batch_size * math.prod(op.in_shape), batch_size * math.prod(out_shape(op)))
    return nodes_of(graph), params, converted


def table_features(keys: Iterable[str], batch_size: int = 1, threads: int = 1,
                   progress: bool = False, backend: str = "onnxruntime") -> dict[str, list[int]]:
    """``{op key: [executed nodes, parameters, converted elements]}`` for every key (one export and one session
    each), as ``backend`` (a table's) runs the ops."""
    from tqdm import tqdm

    keys = list(keys)
    out = {}
    for key in tqdm(keys, unit="op", desc="graph features", disable=not progress, dynamic_ncols=True):
        out[key] = list(op_features(parse_key(key), batch_size, threads, backend))
    return out

"""What a whole int8 network executes of each op: the graph features of ``onnxruntime-int8`` tables.

The ``graph`` calibration (:mod:`hwnas.cost.latency.calibrate`) corrects a table's sum with three features per op
(:mod:`hwnas.cost.latency.graph_features`): the nodes a network still runs of the op, its weights, and the
elements converted at the op's boundary, which the op pays when timed alone and a network does not. For an int8
op the boundary is where most of the difference is. ONNX Runtime (1.32, x86) optimises a quantized (QDQ) op into:

* ``ir_k3_e6`` at 16x32x32 (residual): ``QuantizeLinear`` of the float input, ``Transpose`` to NHWC, three
  ``QLinearConv`` (channels last), ``Transpose`` back to NCHW, ``QLinearAdd`` (which reads the quantized input
  as its skip), ``DequantizeLinear`` to the float output. A strided block: the same without the ``Add``;
* the head: ``QuantizeLinear``, ``QLinearGlobalAveragePool``, ``Flatten``, ``QGemm``, ``DequantizeLinear`` (no
  layout change); an identity skip: one ``Identity``.

The same network quantized as one graph (what ``hwnas export --int8`` ships) quantizes once at its input and
dequantizes once at its output; between them every op hands a uint8 NHWC tensor to the next, so each op's
boundary ``QuantizeLinear``, ``DequantizeLinear`` and layout ``Transpose`` s vanish, while the residual
``QLinearAdd`` stays a node of its own (fp32 fuses its ``Add`` into the convolution). So an op's **executed
nodes** are its optimised nodes less those boundary steps and identities, and its **converted elements** are the
elements the boundary steps touch: the input for the ``QuantizeLinear`` and for the ``Transpose`` after it, the
output for the ``Transpose`` and the ``DequantizeLinear`` before it. A residual block's last ``Transpose`` feeds
its ``QLinearAdd`` rather than the output: it exists only because the op hands NCHW to its caller, and in a
network the ``Add`` runs in NHWC, so it counts as a boundary step too (:func:`boundary_nodes` walks back through
the ``Add``).

One more difference comes from the deployed file's symbolic batch axis: a channel-shuffle block (``_g2``)
computes its ``Reshape`` targets at run time there (``Shape``, ``Gather``, ``Div``, ``Unsqueeze``, ``Concat``: 13
nodes), dequantizes the whole tensor only to read its shape, and keeps a layout ``Transpose`` that a static
graph merges into the shuffle's own: 23 executed nodes where the static graph the table times has 8. Features are
therefore read from the op exported and quantized exactly as a deployed network is
(:meth:`~hwnas.cost.latency.backends.OnnxRuntimeInt8Backend.deployed`), so those nodes count as executed: the
network runs them, the table's entry does not contain them.

Checked on whole networks: the executed nodes of an FBNet network at 32 px quantized as one graph (160 and 152
for two uniform draws, its own input and output steps dropped) are the sum of its ops' plus one: inside a
network the head pools the NHWC tensor and transposes the pooled vector, where the op alone pools in NCHW.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

LAYOUT_PERMS = ((0, 2, 3, 1), (0, 3, 1, 2))  # NCHW -> NHWC and back: ORT's int8 convolutions run channels last
ELEMENTWISE = {"QLinearAdd": (0, 3), "Add": (0, 1)}  # their tensor inputs: layout-free, run in any layout


def _is_layout(node) -> bool:
    if node.op_type != "Transpose":
        return False
    perm = next((tuple(a.ints) for a in node.attribute if a.name == "perm"), None)
    return perm in LAYOUT_PERMS


def boundary_nodes(graph) -> tuple[set[int], set[int]]:
    """Indices of the nodes of an op's optimised int8 graph that exist only because the op is a graph of its
    own: from the input, its ``QuantizeLinear`` and the layout ``Transpose`` after it; towards the output, its
    ``DequantizeLinear`` and the layout ``Transpose`` before it, also through a residual ``Add``. Returns
    ``(input side, output side)``."""
    nodes = list(graph.node)
    reached, into = {v.name for v in graph.input}, set()
    for i, node in enumerate(nodes):  # ONNX graphs are topologically sorted
        if node.input and node.input[0] in reached and (node.op_type == "QuantizeLinear" or _is_layout(node)):
            into.add(i)
            reached.add(node.output[0])
    wanted, out = {v.name for v in graph.output}, set()
    for i in range(len(nodes) - 1, -1, -1):
        node = nodes[i]
        if not node.output or node.output[0] not in wanted or i in into:
            continue
        if node.op_type == "DequantizeLinear" or _is_layout(node):
            out.add(i)
            wanted.add(node.input[0])
        elif node.op_type in ELEMENTWISE:  # executed in a network too, in its layout: look behind it
            wanted.update(node.input[k] for k in ELEMENTWISE[node.op_type] if k < len(node.input))
    return into, out


def executed_nodes(graph) -> int:
    """Nodes of an op's optimised int8 graph that a whole int8 network containing it still runs."""
    into, out = boundary_nodes(graph)
    identities = sum(node.op_type == "Identity" for node in graph.node)
    return len(graph.node) - len(into) - len(out) - identities


def converted_elements(graph, input_elements: int, output_elements: int) -> int:
    """Elements the boundary steps of an op's optimised int8 graph touch: the input per input-side step, the
    output per output-side step (:func:`boundary_nodes`)."""
    into, out = boundary_nodes(graph)
    return len(into) * input_elements + len(out) * output_elements


def deployed_op(module, input_shape: tuple[int, ...]) -> bytes:
    """An op's module exported and quantized as a deployed int8 network is
    (:meth:`~hwnas.cost.latency.backends.OnnxRuntimeInt8Backend.deployed`), in memory."""
    from hwnas.cost.latency.backends import OnnxRuntimeInt8Backend

    with tempfile.TemporaryDirectory() as scratch:
        return OnnxRuntimeInt8Backend.deployed(module, Path(scratch) / "op.onnx", input_shape).read_bytes()

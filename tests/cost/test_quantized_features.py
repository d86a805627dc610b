"""Graph features of int8 ops: the quantize, dequantize and layout steps at an op's boundary are what a whole int8
network does not run."""

import math
import tempfile
from pathlib import Path

from onnx import helper

from hwnas.cost.lut_keys import parse_key, spec_ops
from tests.cost.tiny import tiny_space


def _graph(*nodes):
    return helper.make_graph(list(nodes), "g", [helper.make_tensor_value_info("input", 1, [1])],
                             [helper.make_tensor_value_info("output", 1, [1])])


def _transpose(src: str, dst: str, perm: tuple[int, ...]):
    return helper.make_node("Transpose", [src], [dst], perm=list(perm))


def test_boundary_quantize_dequantize_and_layout_steps_are_dropped_and_counted():
    from hwnas.cost.latency.quantized_features import converted_elements, executed_nodes

    # A residual block as ONNX Runtime optimises it, with a channel shuffle inside.
    residual = _graph(helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),  # boundary: input
                      _transpose("q", "a", (0, 2, 3, 1)),  # boundary: input, to NHWC
                      helper.make_node("QLinearConv", ["a", "s", "z"], ["b"]),
                      helper.make_node("Reshape", ["b", "shape"], ["c"]),
                      _transpose("c", "d", (0, 4, 3, 1, 2)),  # the shuffle: runs in a network too
                      _transpose("d", "e", (0, 2, 3, 1)),  # inner layout change: runs in a network too
                      helper.make_node("DequantizeLinear", ["e", "s", "z"], ["f"]),  # inner: kept
                      helper.make_node("Shape", ["f"], ["g"]),
                      helper.make_node("QLinearConv", ["e", "s", "z"], ["h"]),
                      _transpose("h", "i", (0, 3, 1, 2)),  # feeds the Add: in a network the Add runs in NHWC
                      helper.make_node("QLinearAdd", ["i", "s", "z", "q", "s", "z", "s", "z"], ["j"]),  # kept
                      helper.make_node("DequantizeLinear", ["j", "s", "z"], ["output"]))  # boundary: output
    assert executed_nodes(residual) == 12 - 4
    assert converted_elements(residual, 100, 100) == 2 * 100 + 2 * 100
    strided = _graph(helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),
                     _transpose("q", "a", (0, 2, 3, 1)),
                     helper.make_node("QLinearConv", ["a", "s", "z"], ["b"]),
                     _transpose("b", "c", (0, 3, 1, 2)),
                     helper.make_node("DequantizeLinear", ["c", "s", "z"], ["output"]))
    assert executed_nodes(strided) == 1
    assert converted_elements(strided, 100, 30) == 2 * 100 + 2 * 30
    identity = _graph(helper.make_node("Identity", ["input"], ["output"]))
    assert (executed_nodes(identity), converted_elements(identity, 100, 100)) == (0, 0)


def test_real_int8_ops():
    from hwnas.cost.latency.graph_features import op_features, optimised_graph
    from hwnas.cost.latency.measure import op_module
    from hwnas.cost.latency.quantized_features import boundary_nodes, deployed_op

    skip = parse_key("skip_s1_c16@16x8x8")
    block = parse_key("ir_r1_k3_s1_e1_c16_m48_nre@16x8x8")  # residual
    assert op_features(skip, backend="onnxruntime-int8") == (0, 0, 0)
    nodes, params, converted = op_features(block, backend="onnxruntime-int8")
    assert params == sum(p.numel() for p in op_module(block).parameters())
    graph = optimised_graph(deployed_op(op_module(block), (1, 16, 8, 8)))
    into, out = boundary_nodes(graph)
    kinds = [n.op_type for n in graph.node]
    # A quantized op always quantizes its float input and dequantizes its float output; ORT may add a layout
    # change on each side (channels-last int8 kernels), depending on the CPU.
    assert kinds[0] == "QuantizeLinear" and kinds[-1] == "DequantizeLinear" and len(into) in (1, 2)
    assert len(out) == len(into)
    assert converted == (len(into) + len(out)) * 16 * 8 * 8
    assert nodes == len(graph.node) - len(into) - len(out) >= 4  # three convolutions and the residual Add


def test_a_whole_int8_network_executes_what_its_ops_execute():
    """The features' premise, on the quantized deployment export of tiny networks: the network's nodes less its
    own input and output steps are its ops' executed nodes, up to one layout change around the head's pooling."""
    from hwnas.cost.latency.backends import OnnxRuntimeInt8Backend
    from hwnas.cost.latency.graph_features import op_features, optimised_graph
    from hwnas.cost.latency.quantized_features import executed_nodes
    from hwnas.nn import build_model

    space = tiny_space()
    for choice in (space.heaviest(), space.lightest()):
        spec = space.to_spec(choice)
        with tempfile.TemporaryDirectory() as scratch:
            path = OnnxRuntimeInt8Backend.deployed(build_model(spec, 10, 3).eval(), Path(scratch) / "net.onnx",
                                                   (1, 3, 16, 16))
            network = optimised_graph(path.read_bytes())
        ops = sum(op_features(op, backend="onnxruntime-int8")[0] for op in spec_ops(spec, 16, 3, 10))
        assert math.isclose(executed_nodes(network), ops, abs_tol=1)

"""Executed graph nodes and weights of ops, from ONNX Runtime's optimised graphs."""

from hwnas.cost.lut_keys import parse_key


def test_boundary_layout_conversions_and_identities_are_not_executed_inside_a_network():
    from onnx import helper

    from hwnas.cost.latency.graph_features import executed_nodes

    nodes = [helper.make_node("ReorderInput", ["input"], ["a"]),  # boundary: dropped
             helper.make_node("Conv", ["a", "w"], ["b"]),
             helper.make_node("ReorderOutput", ["b"], ["c"]),  # inner (around a shuffle): kept
             helper.make_node("Transpose", ["c"], ["d"]),
             helper.make_node("ReorderInput", ["d"], ["e"]),  # inner: kept
             helper.make_node("Identity", ["e"], ["f"]),  # dropped
             helper.make_node("ReorderOutput", ["f"], ["output"])]  # boundary: dropped
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", 1, [1])],
                              [helper.make_tensor_value_info("output", 1, [1])])
    assert executed_nodes(graph) == 4


def test_converted_elements_count_the_boundary_conversions_only():
    from onnx import helper

    from hwnas.cost.latency.graph_features import converted_elements

    def graph(*nodes):
        return helper.make_graph(list(nodes), "g", [helper.make_tensor_value_info("input", 1, [1])],
                                 [helper.make_tensor_value_info("output", 1, [1])])

    blocked = graph(helper.make_node("ReorderInput", ["input"], ["a"]),  # copies the input: 100
                    helper.make_node("Conv", ["a", "w"], ["b"]),
                    helper.make_node("ReorderOutput", ["b"], ["c"]),  # inner: not at the boundary
                    helper.make_node("ReorderInput", ["c"], ["d"]),
                    helper.make_node("ReorderOutput", ["d"], ["output"]))  # copies the output: 30
    assert converted_elements(blocked, 100, 30) == 130
    residual = graph(helper.make_node("ReorderInput", ["input"], ["a"]),
                     helper.make_node("Conv", ["a", "w"], ["b"]),
                     helper.make_node("ReorderOutput", ["b"], ["c"]),  # feeds the residual Add: fused in a network
                     helper.make_node("Add", ["c", "input"], ["output"]))
    assert converted_elements(residual, 100, 100) == 100
    plain = graph(helper.make_node("Conv", ["input", "w"], ["output"]))
    assert converted_elements(plain, 100, 30) == 0


def boundary_conversions(key: str) -> tuple[int, int]:
    """(ReorderInput nodes reading the input, ReorderOutput nodes writing the output) of an op's optimised graph.

    Whether ONNX Runtime converts layouts at all depends on the CPU (its NCHWc transformer runs where MLAS has
    blocked kernels, e.g. AVX2/AVX-512 x86), so tests derive the expected conversions from the graph this machine
    builds rather than hard-coding one instruction set's counts."""
    from hwnas.cost.latency.backends import onnx_bytes
    from hwnas.cost.latency.graph_features import optimised_graph
    from hwnas.cost.latency.measure import op_module

    op = parse_key(key)
    graph = optimised_graph(onnx_bytes(op_module(op), (1, *op.in_shape)))
    inputs, outputs = {v.name for v in graph.input}, {v.name for v in graph.output}
    into = sum(n.op_type == "ReorderInput" and bool(inputs & set(n.input)) for n in graph.node)
    out = sum(n.op_type == "ReorderOutput" and bool(outputs & set(n.output)) for n in graph.node)
    return into, out


def test_real_ops():
    from hwnas.cost.latency.graph_features import op_features, table_features
    from hwnas.cost.latency.measure import op_module

    skip = parse_key("skip_s1_c16@16x8x8")
    block = parse_key("ir_r1_k3_s1_e1_c16_m48_nre@16x8x8")  # residual
    strided = parse_key("ir_r1_k3_s2_e1_c24_m48_nre@16x8x8")  # no residual: its output leaves the op
    assert op_features(skip) == (0, 0, 0)  # an identity: nothing executed, whatever the CPU
    features = op_features(block)
    nodes, params, converted = features
    assert all(isinstance(v, int) and v >= 0 for v in features)
    assert op_features(block) == features  # a fixed property of the key
    assert params == sum(p.numel() for p in op_module(block).parameters()) > 16 * 48
    assert nodes >= 3  # three convolutions, however ONNX Runtime fuses their BN, activations and the residual
    # Where the convolutions run blocked (NCHWc), the op converts its input once; its output's conversion feeds
    # the residual Add (which a network fuses into the convolution) and is never counted. Where they do not,
    # nothing is converted. Either way the count is the input's elements times the input conversions.
    into, out = boundary_conversions(block.key)
    assert into in (0, 1) and out == 0
    assert converted == into * 16 * 8 * 8
    # Without a residual both boundary conversions count: the input's and the (strided, wider) output's.
    into, out = boundary_conversions(strided.key)
    assert into in (0, 1) and out in (0, 1)
    assert op_features(strided)[2] == into * 16 * 8 * 8 + out * 24 * 4 * 4
    assert table_features([skip.key, block.key]) == {skip.key: [0, 0, 0], block.key: [nodes, params, converted]}

"""Null models: the output shape of every op is computed right (no torch), and a null model has both shapes."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from hwnas.cost.latency.measure import op_module
from hwnas.cost.latency.overhead import io_key, measure_overheads, null_model, out_shape, parse_io_key, table_io_keys
from hwnas.cost.lut_keys import space_ops

from .tiny import tiny_space


def test_out_shape_matches_the_module_and_null_models_have_both_shapes():
    ops, _ = space_ops(tiny_space(), 3)
    for op in ops:
        with torch.no_grad():
            assert out_shape(op) == tuple(op_module(op)(torch.zeros(1, *op.in_shape)).shape[1:]), op.key
    for key in table_io_keys(op.key for op in ops):
        ins, outs = parse_io_key(key)
        session = ort.InferenceSession(null_model(key, batch_size=2), providers=["CPUExecutionProvider"])
        result = session.run(None, {"input": np.ones((2, *ins), np.float32)})[0]
        assert result.shape == (2, *outs)
    assert [io_key(op) for op in ops if op.kind == "head"] == ["32x4x4>10"]  # the head: (classes,)


def test_measure_overheads_and_malformed_keys():
    prov = {"backend": "onnxruntime", "threads": 1, "batch_size": 1, "timing": {"warmup": 0, "rounds": 2}}
    times = measure_overheads(["8x8x8>16x4x4", "16x4x4>10"], prov)
    assert set(times) == {"8x8x8>16x4x4", "16x4x4>10"} and all(v > 0 for v in times.values())
    with pytest.raises(ValueError, match="onnxruntime table"):
        measure_overheads(["8x8x8>8x8x8"], dict(prov, backend="torch"))
    with pytest.raises(ValueError, match="malformed"):
        parse_io_key("8x8>4")

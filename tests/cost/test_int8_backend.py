"""The onnxruntime-int8 latency backend: ops and networks timed as statically quantized ONNX models."""

from __future__ import annotations

import onnx
import torch

from hwnas.cost.latency.backends import BACKENDS, OnnxRuntimeInt8Backend, get_backend
from hwnas.cost.latency.calibrate import calibrate_table
from hwnas.cost.latency.measured_nets import measure_here
from hwnas.cost.latency.sampled_nets import sample_specs
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.latency.build import build_space_table
from hwnas.cost.latency.measure import time_models
from hwnas.nn import build_model
from tests.cost.tiny import tiny_space


def test_int8_backend_times_the_quantized_model():
    assert "onnxruntime-int8" in BACKENDS
    backend = get_backend("onnxruntime-int8", 1)
    assert isinstance(backend, OnnxRuntimeInt8Backend) and "int8" in backend.info()["backend_options"]["quantization"]
    conv = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU())
    timings = time_models([conv, conv], "onnxruntime-int8", 1, 1, 1, 3, input_shapes=(8, 16, 16))
    assert all(t.median_ms > 0 for t in timings)


def test_int8_table_builds_calibrates_and_predicts(tmp_path):
    space = tiny_space()
    built = build_space_table(space, tmp_path / "int8.json", backend="onnxruntime-int8", warmup=2, rounds=10,
                              progress=False)
    table = LatencyTable.load(tmp_path / "int8.json", backend="onnxruntime-int8")
    assert built.ops == len(table.entries) and table.provenance["backend"] == "onnxruntime-int8"
    specs = sample_specs(space, 12, seed=0, sampler="spread")  # light to heavy: the fit has a range to follow
    measured = measure_here(table, specs, rounds=20)
    calibrate_table(table, measured, space, seed=0, sampler="spread")
    assert table.calibration["kind"] == "affine"  # null models and graph features are the fp32 ORT ones
    spec = space.to_spec(space.heaviest())
    assert table.predict(spec) > 0


def test_an_int8_file_is_timed_as_it_is(tmp_path):
    from hwnas.workflows.export import export_model
    from hwnas.nn.quantize import quantize_onnx

    spec = tiny_space().to_spec(tiny_space().heaviest())
    model = build_model(spec, 10, 3)
    fp32, int8 = tmp_path / "m.onnx", tmp_path / "m.int8.onnx"
    export_model(model, spec, fp32, "onnx", 16)
    quantize_onnx(fp32, int8, [torch.randn(2, 3, 16, 16).numpy()])
    assert any(n.op_type == "QuantizeLinear" for n in onnx.load(str(int8)).graph.node)
    (timing,) = time_models([int8], "onnxruntime-int8", 1, 1, 1, 3, input_shapes=(3, 16, 16))
    assert timing.median_ms > 0

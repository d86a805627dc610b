"""The onnxruntime-int8 latency backend: ops and networks timed as statically quantized ONNX models."""

from __future__ import annotations

import onnx
import pytest
import torch

from hwnas.cost.latency.backends import BACKENDS, OnnxRuntimeInt8Backend, get_backend
from hwnas.cost.latency.calibrate import CONTEXTUAL_MIN_NETWORKS, GRAPH_MIN_NETWORKS, calibrate_table, default_kind
from hwnas.cost.latency.graph_features import table_features
from hwnas.cost.latency.measured_nets import measure_here
from hwnas.cost.latency.overhead import table_io_keys
from hwnas.cost.latency.sampled_nets import sample_specs
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.latency.build import build_space_table
from hwnas.cost.latency.measure import time_models
from hwnas.nn import build_model
from tests.cost.tiny import FakeBackend, graph_measured, tiny_space


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
    measured = measure_here(table, specs, rounds=20, overheads=True)
    assert set(measured.overheads) == set(table_io_keys(table.entries))  # the fp32 null models: float in and out
    calibrate_table(table, measured, space, seed=0, sampler="spread", graph=True)
    # Real times on a shared machine: a noisy fit may step down to a simpler kind, and says so.
    assert table.calibration["kind"] == "graph" or table.calibration.get("fallback_from") == "graph"
    spec = space.to_spec(space.heaviest())
    assert table.predict(spec) > 0


def test_an_int8_table_is_calibrated_graph_style_on_its_int8_features(tmp_path):
    """``auto`` picks the graph kinds for an int8 table, whose features are read from the ops' int8 graphs; a graph
    fit on a handful of int8 networks predicts networks that follow its model (known coefficients)."""
    space = tiny_space()
    fake = build_space_table(space, tmp_path / "lut.json", backend=FakeBackend(), width_grid=3, warmup=0,
                             rounds=1, progress=False).table
    table = LatencyTable(dict(fake.provenance, backend="onnxruntime-int8"), fake.entries, fake.families)
    assert default_kind(table) == "graph"
    assert default_kind(table, "auto", CONTEXTUAL_MIN_NETWORKS) == "contextual"
    assert default_kind(table, "auto", GRAPH_MIN_NETWORKS - 1) == "overhead"
    features = table_features(table.entries, backend="onnxruntime-int8")
    nulls = {k: 0.002 + 0.0005 * i for i, k in enumerate(table_io_keys(table.entries))}
    coef = (1.3, 0.003, 0.08, -0.6, 0.01)
    specs = sample_specs(space, 10, seed=0)
    cal = calibrate_table(table, graph_measured(table, specs, nulls, features, coef), space, seed=0, graph=True)
    assert cal["kind"] == "graph" and cal["op_features"] == features  # computed from the table's backend
    fitted = [cal["scale"], cal["node_ms"], cal["ms_per_mparam"], cal["ms_per_mconverted"], cal["offset_ms"]]
    assert fitted == pytest.approx(coef, rel=1e-4)
    others = sample_specs(space, 5, seed=1, exclude=cal["fit"]["networks"])
    for spec, want in zip(others, graph_measured(table, others, nulls, features, coef).median_ms):
        assert table.predict(spec) == pytest.approx(want, rel=1e-6)


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


def test_whole_int8_networks_are_timed_as_the_int8_file_that_ships(tmp_path, monkeypatch):
    """Calibration, validation and the search's measured loop time an int8 network as `hwnas export --int8` ships
    it: the deployment export (symbolic batch axis) quantized as one graph, not the ops' static graphs."""
    from hwnas.arch import encode
    from hwnas.cost.latency import measure
    from hwnas.search.measured import deployed_model

    def quantized_deployment(path):
        graph = onnx.load(str(path)).graph
        batch = graph.input[0].type.tensor_type.shape.dim[0]
        return batch.dim_param == "batch" and any(n.op_type == "QuantizeLinear" for n in graph.node)

    timed = []

    def fake_time_models(models, *args, **kwargs):
        timed.extend(quantized_deployment(m) for m in models)
        return [measure.Timing.from_samples([1.0]) for _ in models]

    monkeypatch.setattr(measure, "time_models", fake_time_models)
    specs = sample_specs(tiny_space(), 2, seed=0)
    measure.measure_specs(specs, 16, 3, 10, backend="onnxruntime-int8")
    assert timed == [True, True]
    geometry = {"input_size": 16, "in_channels": 3, "num_classes": 10}
    path = deployed_model(encode(specs[0]), geometry, "onnxruntime-int8", tmp_path / "loop" / "net.onnx")
    assert path == tmp_path / "loop" / "net.onnx" and quantized_deployment(path)

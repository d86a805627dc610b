"""hwnas's measured latency of a network is that of the file a user deploys, timed as a user's plain loop times it
(issue 20): the code paths agree exactly, and the numbers within a wide factor (timings are noisy; the
benchmark, benchmarks/lut_user_check.py, compares them within the noise floor)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import onnx

from hwnas.arch import decode
from hwnas.cost.latency import measure
from hwnas.nn import build_model
from hwnas.workflows.export import export_model

PLAIN_LOOP = Path(__file__).resolve().parents[2] / "benchmarks" / "plain_loop.py"
ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s1_e3_c8 ir_r1_k5_s2_e3_c16 | head"
SIZE = 16


def _graph(path):
    g = onnx.load(str(path)).graph
    batch = g.input[0].type.tensor_type.shape.dim[0]
    return [n.op_type for n in g.node], batch.dim_param or batch.dim_value


def test_measured_networks_are_the_exported_file(tmp_path, monkeypatch):
    """measure_specs times the graph `hwnas export` writes: BatchNorm folded, a symbolic batch axis."""
    seen = []
    real = measure.time_models

    def spy(models, *args, **kwargs):
        seen.extend(_graph(m) for m in models)
        return real(models, *args, **kwargs)

    monkeypatch.setattr(measure, "time_models", spy)
    spec = decode(ARCH)
    timing = measure.measure_specs([spec], SIZE, 3, 10, warmup=1, rounds=3, order="alone")[0]
    assert timing.median_ms > 0
    exported = tmp_path / "model.onnx"
    export_model(build_model(spec, 10, 3).eval(), spec, exported, "onnx", SIZE, 3)
    assert seen == [_graph(exported)]
    nodes, batch = seen[0]
    assert "BatchNormalization" not in nodes and batch == "batch"


def test_plain_loop_and_hwnas_agree_on_one_file(tmp_path):
    """The same file, timed by hwnas (time_models, alone) and by the independent plain loop in a fresh process:
    the same per-call median within a factor 2 (a real disagreement, e.g. timing another graph or the cold
    first calls, is systematic; noise on a busy machine stays well inside)."""
    spec = decode(ARCH)
    path = tmp_path / "model.onnx"
    export_model(build_model(spec, 10, 3).eval(), spec, path, "onnx", SIZE, 3)
    ours = min(measure.time_models([path], input_shapes=(3, SIZE, SIZE), warmup=5, rounds=50,
                                   order="alone")[0].median_ms for _ in range(3))
    out = subprocess.run([sys.executable, str(PLAIN_LOOP), str(path), "--passes", "3", "--calls", "50",
                          "--warmup", "5"], capture_output=True, text=True, timeout=120, check=True)
    theirs = json.loads(out.stdout)[str(path)]["ms"]
    assert 0.5 < ours / theirs < 2.0, (ours, theirs)


def test_plain_loop_imports_no_hwnas():
    """The check is independent: the plain loop imports only the standard library, numpy and onnxruntime."""
    spec = importlib.util.spec_from_file_location("plain_loop", PLAIN_LOOP)
    source = Path(spec.origin).read_text()
    assert "hwnas" not in "".join(line for line in source.splitlines() if "import" in line)


def test_the_user_checks_int8_file_is_the_graph_hwnas_times(tmp_path, monkeypatch):
    """benchmarks/lut_user_check.py --backend onnxruntime-int8 gives the plain loop the int8 file as `hwnas export
    --int8` ships it; hwnas times int8 networks as that same graph (the deployment export quantized as one)."""
    seen = []
    monkeypatch.setattr(measure, "time_models", lambda models, *a, **k: seen.extend(_graph(m) for m in models)
                        or [measure.Timing.from_samples([1.0])] * len(models))
    spec = decode(ARCH)
    measure.measure_specs([spec], SIZE, 3, 1000, backend="onnxruntime-int8")
    check = importlib.util.spec_from_file_location("lut_user_check", PLAIN_LOOP.with_name("lut_user_check.py"))
    module = importlib.util.module_from_spec(check)
    check.loader.exec_module(module)
    (path,) = module.export_all([spec], tmp_path, SIZE, "onnxruntime-int8")
    assert seen == [_graph(path)]
    nodes, batch = seen[0]
    assert "QuantizeLinear" in nodes and batch == "batch"

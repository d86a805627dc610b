"""benchmarks/lut_accuracy.py keeps working: its core (build, calibrate, validate, noise floor, zoo) with tiny
settings on a small space, for real on ONNX Runtime, and its Markdown tables."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from hwnas.space import get_space

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "lut_accuracy.py"
# Wide enough that compute, not per-call overhead, separates the networks (a fit needs a slope).
SPACE = """\
name: wide
stem: stem_k3_s2_c32
stages:
  - out: 64
    stride: 2
    candidates: [skip, ir_k3_e3, ir_k5_e6]
  - out: 64
    stride: 1
    depth: [1, 2]
    candidates: [ir_k3_e1, ir_k3_e6]
head: head
"""
ARCH = "act=re se=in | stem_k3_s2_c32 | ir_r1_k3_s2_e3_c64 ir_r1_k3_s1_e6_c64 | head"


def load_bench():
    spec = importlib.util.spec_from_file_location("lut_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_core_on_a_small_space(tmp_path):
    bench = load_bench()
    (tmp_path / "wide.yaml").write_text(SPACE)
    space = get_space(str(tmp_path / "wide.yaml"), 64, 3, 10)
    result, table = bench.evaluate_space(space, "onnxruntime", tmp_path, fit=6, val=5, rounds=3, warmup=1, passes=2,
                                         net_passes=2)
    assert result.ops == len(table.entries) and result.build_s > 0
    assert set(result.calibrations) == set(result.validated) == {"affine", "overhead", "graph", "contextual"}
    assert all(m["n"] == 5 for m in (result.raw, result.noise, *result.validated.values()))
    assert table.calibration["kind"] in ("affine", "overhead", "graph", "contextual") and len(result.points["measured_ms"]) == 5
    saved = json.loads((tmp_path / "wide64_onnxruntime_networks.json").read_text())  # for later refits
    assert [n["role"] for n in saved["networks"]] == ["fit"] * 6 + ["validation"] * 5
    assert all("again_ms" in n for n in saved["networks"][6:]) and saved["timing"]["network_passes"] == 2
    # --refit: the same measurements fitted and scored again without timing anything: the same figures.
    again, timing = bench.refit_spaces(tmp_path, space)
    assert len(again) == 1 and timing["network_passes"] == 2
    assert again[0].ops == result.ops and again[0].build_s == result.build_s
    for kind in ("affine", "overhead", "graph"):
        assert again[0].validated[kind]["mape"] == pytest.approx(result.validated[kind]["mape"])
        assert again[0].later[kind]["mape"] == pytest.approx(result.later[kind]["mape"])
    text = bench.format_spaces([result], fit=6, val=5, rounds=3, net_passes=2)
    assert "2 passes, median per network" in text
    assert "| wide 64 px | onnxruntime | calibrated (overhead) |" in text and "noise floor" in text
    rows, ops, _ = bench.evaluate_zoo([ARCH], "onnxruntime", result.calibrations, tmp_path, rounds=2, warmup=0,
                                      size=64)
    assert ops == 4 and rows[0]["measured_ms"] > 0 and rows[0]["overhead"] > 0 and rows[0]["affine"] > 0
    assert rows[0]["graph"] > 0
    assert f"| {ARCH} |" in bench.format_zoo(rows, "onnxruntime", ops, 1.0, ["affine", "overhead", "graph"], 64)

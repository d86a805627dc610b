"""`hwnas export --int8`: a statically quantized ONNX model beside the fp32 one, with both timed and evaluated."""

from __future__ import annotations

import json

import onnx
import pytest

from hwnas.cli import main
from tests.data.fakes import make_fake_fashion

ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c16 ir_r1_k5_s1_e3_c16_se0.25 | cn_r1_k1_s1_c32 | head"


def test_int8_export_reports_latency_and_accuracy_beside_fp32(tmp_path, capsys):
    data = tmp_path / "fashion"
    make_fake_fashion(data, n_train=256, n_test=64)
    run = tmp_path / "run"
    assert main(["train", ARCH, "--data-dir", str(data), "--epochs", "2", "--batch-size", "32", "--quiet",
                 "--no-augment", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["export", "--checkpoint", str(run / "best.pt"), "--out", str(tmp_path / "m.onnx"), "--int8",
                 "--calib-images", "64", "--rounds", "5", "--data-dir", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["int8"]
    int8 = onnx.load(report["int8"])
    ops = {n.op_type for n in int8.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ: ORT fuses them into integer kernels
    weights = {i.name: i.data_type for i in int8.graph.initializer}
    assert onnx.TensorProto.INT8 in weights.values()  # int8 weights
    assert report["fp32_ms"] > 0 and report["int8_ms"] > 0 and report["speedup"] > 0
    assert report["int8_top1"] == pytest.approx(report["fp32_top1"], abs=10.0)  # 64 test images: 6 may flip
    saved = json.loads((tmp_path / "m.int8.json").read_text())
    assert saved["int8_ms"] == report["int8_ms"]


def test_int8_needs_onnx_and_a_dataset(tmp_path, capsys):
    assert main(["export", ARCH, "--format", "torchscript", "--int8", "--out", str(tmp_path / "m.ts")]) == 2
    assert "--format onnx" in capsys.readouterr().err
    assert main(["export", ARCH, "--int8", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "--dataset" in capsys.readouterr().err

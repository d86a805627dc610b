"""`hwnas lut build` and `hwnas latency` end to end on tiny networks (real ONNX Runtime), and their errors."""

import json

import pytest
import torch

TINY_ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s1_e2_c8 ir_r1_k5_s2_e3_c16_se0.25 | head"
FAST = ("--warmup", 1, "--rounds", 3, "--quiet")
YAML_SPACE = """\
name: two_slots
stem: stem_k3_s2_c8
stages:
  - out: 16
    stride: 2
    candidates: [skip, ir_k3_e3, ir_k5_e3_se0.25]
  - out: 16
    stride: 1
    depth: [1, 2]
    candidates: [ir_k3_e1, ir_k3_e3]
    widths: [8, 16, 24]
head: head
"""


def test_lut_build_arch_then_latency_measured(cli, tmp_path):
    lut = tmp_path / "lut.json"
    code, out, err = cli("lut", "build", "--arch", TINY_ARCH, "--input-size", 16, "--num-classes", 10,
                         "--out", lut, "--json", *FAST)
    assert code == 0, err
    built = json.loads(out)
    assert (built["ops"], built["timed"], built["backend"], built["archs"]) == (4, 4, "onnxruntime", ["custom"])
    assert built["calibration"] is None  # a table of given networks has no space to calibrate on
    code, out, err = cli("latency", TINY_ARCH, "--lut", lut, "--measure", "--rounds", 3, "--passes", 2, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["predicted_ms"] > 0 and result["measured_ms"] > 0 and len(result["measured_passes_ms"]) == 2
    first, second = result["measured_passes_ms"]
    assert result["measured_iqr_ms"] == pytest.approx(abs(first - second) / 2)  # inclusive quartiles of 2 passes
    assert result["drift"] is None  # no calibration, so no drift references to time beside it
    # The one-line warning: predictions of an uncalibrated table are raw sums of ops timed alone.
    assert err.count("\n") == 1 and "not calibrated" in err and "hwnas lut calibrate" in err
    code, out, _ = cli("latency", TINY_ARCH, "--lut", lut)
    assert code == 0 and "predicted" in out and "measured" not in out


def test_lut_build_yaml_space_resumes_and_predicts_samples(cli, tmp_path):
    space, lut = tmp_path / "two.yaml", tmp_path / "lut.json"
    space.write_text(YAML_SPACE)
    args = ("lut", "build", "--space", space, "--input-size", 16, "--num-classes", 10, "--out", lut, "--json",
            "--calibration-samples", 4, *FAST)
    code, out, err = cli(*args)
    assert code == 0, err
    first = json.loads(out)
    assert first["timed"] == first["ops"] > 5 and first["space"] == "two_slots"
    # Built for a space: calibrated by default, on the machine that built it, with its drift references kept.
    assert first["calibration"]["samples"] >= 4  # and the drift references, fitted with them
    calibration = json.loads(lut.read_text())["calibration"]
    assert calibration["fit"]["timing"]["network_order"] == "alone"
    refs = calibration["drift_references"]
    assert len(refs["archs"]) == len(refs["ms"]) >= 2 and min(refs["ms"]) > 0
    code, out, _ = cli(*args)  # same settings: nothing left to time
    assert code == 0 and json.loads(out)["timed"] == 0
    code, out, _ = cli("space", "sample", space, "--input-size", 16, "--num-classes", 10, "--seed", 3, "--json")
    arch = json.loads(out)["arch"]
    code, out, err = cli("latency", arch, "--lut", lut, "--json")
    assert code == 0, err
    assert json.loads(out)["predicted_ms"] > 0 and "not calibrated" not in err
    # --measure times the calibration's references beside the network and reports the drift since calibration.
    code, out, err = cli("latency", arch, "--lut", lut, "--measure", "--rounds", 3, "--passes", 2, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["drift"] > 0 and result["measured_at_calibration_ms"] == pytest.approx(
        result["measured_ms"] / result["drift"], rel=0.5)  # per-pass drift: near, not equal, to the ratio
    assert result["error_pct"] == pytest.approx(
        100 * (result["predicted_ms"] / result["measured_at_calibration_ms"] - 1))


def test_lut_build_no_calibrate_leaves_it_raw(cli, tmp_path):
    space, lut = tmp_path / "two.yaml", tmp_path / "lut.json"
    space.write_text(YAML_SPACE)
    code, out, err = cli("lut", "build", "--space", space, "--input-size", 16, "--num-classes", 10, "--out", lut,
                         "--json", "--no-calibrate", *FAST)
    assert code == 0, err
    assert json.loads(out)["calibration"] is None and json.loads(lut.read_text())["calibration"] is None


@pytest.mark.parametrize("argv, match", [
    (("lut", "build", "--out", "x.json"), "give --space"),
    (("latency", TINY_ARCH, "--lut", "missing.json"), "does not exist"),
    (("lut", "build", "--space", "nope", "--out", "x.json"), "unknown space"),
])
def test_errors_are_one_line(cli, tmp_path, monkeypatch, argv, match):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(*argv)
    assert code == 2 and match in err and err.count("\n") == 1


def test_corrupt_or_mismatched_table(cli, tmp_path):
    lut = tmp_path / "lut.json"
    assert cli("lut", "build", "--arch", TINY_ARCH, "--input-size", 16, "--out", lut, *FAST)[0] == 0
    code, _, err = cli("latency", "act=re se=in | stem_k3_s2_c8 | ir_r1_k7_s1_e2_c8 | head", "--lut", lut)
    assert code == 2 and "no entry for op" in err
    code, _, err = cli("lut", "build", "--arch", TINY_ARCH, "--input-size", 16, "--out", lut, "--rounds", 5,
                       "--quiet")
    assert code == 2 and "timing=" in err and "--overwrite" in err
    lut.write_text(lut.read_text()[:100])
    code, _, err = cli("latency", TINY_ARCH, "--lut", lut)
    assert code == 2 and str(lut) in err and "corrupt" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_backend_without_gpu(cli, tmp_path):
    code, _, err = cli("lut", "build", "--arch", TINY_ARCH, "--backend", "cuda", "--out", tmp_path / "x.json",
                       "--quiet")
    assert code == 2 and "CUDA GPU" in err and err.count("\n") == 1

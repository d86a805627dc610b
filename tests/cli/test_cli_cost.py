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
    code, out, err = cli("latency", TINY_ARCH, "--lut", lut, "--measure", "--rounds", 3, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["predicted_ms"] > 0 and result["measured_ms"] > 0 and result["measured_iqr_ms"] >= 0
    code, out, _ = cli("latency", TINY_ARCH, "--lut", lut)
    assert code == 0 and "predicted" in out and "measured" not in out


def test_lut_build_yaml_space_resumes_and_predicts_samples(cli, tmp_path):
    space, lut = tmp_path / "two.yaml", tmp_path / "lut.json"
    space.write_text(YAML_SPACE)
    args = ("lut", "build", "--space", space, "--input-size", 16, "--num-classes", 10, "--out", lut, "--json",
            *FAST)
    code, out, err = cli(*args)
    assert code == 0, err
    first = json.loads(out)
    assert first["timed"] == first["ops"] > 5 and first["space"] == "two_slots"
    code, out, _ = cli(*args)  # same settings: nothing left to time
    assert code == 0 and json.loads(out)["timed"] == 0
    code, out, _ = cli("space", "sample", space, "--input-size", 16, "--num-classes", 10, "--seed", 3, "--json")
    code, out, err = cli("latency", json.loads(out)["arch"], "--lut", lut, "--json")
    assert code == 0, err
    assert json.loads(out)["predicted_ms"] > 0


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

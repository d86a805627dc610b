"""BatchNorm folding: the folded network computes what the unfolded one does, and its exports have no BN op."""

from __future__ import annotations

import onnx
import pytest
import torch
from torch import nn

from hwnas import zoo
from hwnas.arch import decode, for_input_size
from hwnas.workflows.export import export_model
from hwnas.nn import build_model
from hwnas.nn.fold import fold_batchnorm

ARCHES = ["fbnet_a", "mobilenetv3_large_100", "spos_official",
          "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c24_g2 ir_r1_k5_s1_e3_c24_se0.25 | cn_r1_k1_s1_c32 | head"]


def trained_like(spec, seed=0):
    """A network whose BN statistics and affine parameters are far from their initial values (a real fold)."""
    torch.manual_seed(seed)
    model = build_model(spec, 10, 3).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.2, 3)
                m.weight.uniform_(0.5, 2)
                m.bias.uniform_(-0.5, 0.5)
    return model


@pytest.mark.parametrize("name", ARCHES)
def test_folded_network_equals_the_unfolded_one(name):
    torch.manual_seed(0)  # random BN statistics and input: the same draw on every machine
    spec = for_input_size(zoo.get(name).spec, 32) if name in zoo.ZOO else decode(name)
    model = trained_like(spec)
    folded, count = fold_batchnorm(model)
    assert count == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref, out = model(x), folded(x)
    # fp32 rounding of the folded weights grows with the activations' scale (random BN stacks reach 1e6 in
    # deep nets), so the absolute tolerance is relative to the output's largest value
    scale = float(ref.abs().max())
    assert torch.allclose(out, ref, atol=1e-5 * max(scale, 1.0), rtol=1e-4), float((out - ref).abs().max())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched


def test_exports_carry_no_batchnorm_and_match_the_unfolded_model(tmp_path):
    spec = decode(ARCHES[-1])
    model = trained_like(spec)
    onnx_report = export_model(model, spec, tmp_path / "m.onnx", "onnx", 32)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    assert "BatchNormalization" not in ops and onnx_report.folded_bn > 0
    assert onnx_report.max_abs_diff < 1e-4  # folded ONNX vs the unfolded eager model
    ts_report = export_model(model, spec, tmp_path / "m.ts", "torchscript", 32)
    graph = str(torch.jit.load(str(tmp_path / "m.ts")).inlined_graph)
    assert "batch_norm" not in graph and ts_report.max_abs_diff < 1e-4
    # Unfolded, TorchScript keeps its batch_norm ops (the ONNX exporter folds BN in eval mode by itself).
    kept = export_model(model, spec, tmp_path / "k.ts", "torchscript", 32, fold_bn=False)
    assert kept.folded_bn == 0 and "batch_norm" in str(torch.jit.load(str(tmp_path / "k.ts")).inlined_graph)

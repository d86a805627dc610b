"""Export a trained network to ONNX and TorchScript, and check the export against PyTorch.

Every export writes, beside the model file, ``arch.json`` (the ArchSpec) and ``weights.pt`` (a plain state dict,
loadable with ``torch.load(weights_only=True)``), so the network can be rebuilt without the exported graph.
The ONNX file is checked by running it in a real ONNX Runtime session on random inputs and comparing with the
PyTorch output; the maximum absolute difference is returned and stored next to the file. BatchNorm is folded into
the convs before export (:mod:`hwnas.nn.fold`), and the check compares the folded export with the unfolded model,
so it also checks the folding.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from hwnas.arch import ArchSpec, dumps
from hwnas.fileio import atomic_path, write_text_atomic
from hwnas.nn.deploy import DEFAULT_OPSET, export_onnx
from hwnas.workflows.run_dir import RunGeometry, build, load_trained

FORMATS = ("onnx", "torchscript")
PARITY_ATOL = 1e-4  # float32 ORT vs eager: kernels differ in summation order; 1e-4 on logits is well inside that


@dataclass(frozen=True)
class ExportReport:
    path: str
    format: str
    input_shape: tuple[int, ...]
    max_abs_diff: float  # exported vs eager PyTorch on random inputs
    arch_path: str | None
    weights_path: str | None
    folded_bn: int = 0  # BatchNorms folded into their convs in the exported graph


def _save_weights(model: nn.Module, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)


def export_torchscript(model: nn.Module, path: Path, input_shape: tuple[int, ...]) -> None:
    """Write ``model`` (in eval mode) as a traced TorchScript module."""
    model = model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, torch.randn(*input_shape))
    with atomic_path(path) as tmp:
        traced.save(str(tmp))


def onnx_max_abs_diff(model: nn.Module, path: Path, input_shape: tuple[int, ...], trials: int = 3,
                      seed: int = 0) -> float:
    """Largest |ORT - PyTorch| over ``trials`` random inputs, in a real ONNX Runtime CPU session."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    model = model.eval()
    for _ in range(trials):
        x = torch.randn(*input_shape, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        out = session.run(["logits"], {"input": x.numpy()})[0]
        worst = max(worst, float(abs(out - ref).max()))
    return worst


def torchscript_max_abs_diff(model: nn.Module, path: Path, input_shape: tuple[int, ...], seed: int = 0) -> float:
    loaded = torch.jit.load(str(path))
    x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float((loaded(x) - model.eval()(x)).abs().max())


def export_model(model: nn.Module, spec: ArchSpec | None, out: Path, fmt: str, input_size: int,
                 in_channels: int = 3, batch: int = 1, opset: int = DEFAULT_OPSET,
                 fold_bn: bool = True) -> ExportReport:
    """Export in ``fmt`` ("onnx" or "torchscript"), verify it, and write arch.json and weights.pt beside it.

    ``fold_bn`` folds every BatchNorm into its conv in the exported graph; ``weights.pt`` keeps the unfolded
    weights, which ``arch.json`` rebuilds.
    """
    from hwnas.nn.fold import fold_batchnorm

    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    out = Path(out)
    shape = (batch, in_channels, input_size, input_size)
    model = model.cpu().eval()
    graph, folded = fold_batchnorm(model) if fold_bn else (model, 0)
    if fmt == "onnx":  # the one deployment export (hwnas.nn.deploy), which hwnas also times
        export_onnx(graph, out, shape, opset=opset)
        diff = onnx_max_abs_diff(model, out, shape)
    else:
        export_torchscript(graph, out, shape)
        diff = torchscript_max_abs_diff(model, out, shape)
    arch_path = weights_path = None
    if spec is not None:
        arch_path = out.parent / "arch.json"
        write_text_atomic(arch_path, dumps(spec))
    weights_path = out.parent / "weights.pt"
    _save_weights(model, weights_path)
    report = ExportReport(str(out), fmt, shape, diff, str(arch_path) if arch_path else None, str(weights_path),
                          folded)
    write_text_atomic(out.with_name(out.name + ".json"), json.dumps(asdict(report), indent=2) + "\n")
    return report


def export_arch(spec: ArchSpec, geometry: RunGeometry, checkpoint: Path | None, out: Path, fmt: str,
                fold_bn: bool = True) -> ExportReport:
    """Export a trained (or, without a checkpoint, freshly initialised) network and verify the export."""
    model = load_trained(spec, geometry, checkpoint) if checkpoint else build(spec, geometry)
    return export_model(model, spec, Path(out), fmt, geometry.input_size, geometry.in_channels, fold_bn=fold_bn)

"""The ONNX file a network ships as: BatchNorm folded, a symbolic batch axis, input ``input``, output ``logits``.

One function writes it, so that what ``hwnas export`` ships and what hwnas times as a network's measured latency
(:func:`hwnas.cost.latency.measure.measure_specs`, the drift-aware timer of the search) are the same file. That
matters: ONNX Runtime runs a graph with a symbolic batch axis about 5 % slower than the same graph with static
shapes at 32 px (docs/BENCHMARKS.md, issue 20), so timing a static in-memory export reported a network faster
than a user's loop over the exported file found it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from hwnas.fileio import atomic_path

DEFAULT_OPSET = 17


def export_onnx(model: nn.Module, path: Path, input_shape: tuple[int, ...], opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = True) -> None:
    """Write ``model`` (in eval mode) as ONNX with input ``input`` and output ``logits``.

    The TorchScript-based exporter is used: for these static conv nets it gives the same graph as the
    torch.export-based one and is about 10x faster, which matters when a latency table exports hundreds of ops.
    """
    model = model.eval()
    example = torch.randn(*input_shape)
    with atomic_path(path) as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), str(tmp), dynamo=False, opset_version=opset,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None,
        )


def deployed_onnx(model: nn.Module, path: Path, input_shape: tuple[int, ...]) -> int:
    """Write the deployment ONNX of ``model`` (BatchNorm folded, :func:`export_onnx`) to ``path``; returns the
    number of BatchNorms folded. ``model`` is left as it is."""
    from hwnas.nn.fold import fold_batchnorm

    graph, folded = fold_batchnorm(model.cpu().eval())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    export_onnx(graph, Path(path), input_shape)
    return folded

"""``hwnas export --int8``: the static int8 ONNX model beside an fp32 export, timed and evaluated beside it.

The quantizer itself (ONNX Runtime's QDQ tooling) is :mod:`hwnas.nn.quantize`, below the latency tables that
time int8 networks too; this is the workflow around it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwnas.arch import ArchSpec
from hwnas.fileio import write_text_atomic
from hwnas.nn.quantize import calibration_images, onnx_top1, quantize_onnx
from hwnas.workflows.run_dir import RunGeometry


def export_int8(spec: ArchSpec, geometry: RunGeometry, checkpoint: Path | None, fp32: Path, *,
                calib_images: int = 300, rounds: int = 50, data_dir: str | None = None, threads: int = 1,
                download: bool = False) -> dict[str, Any]:
    """The int8 model beside the fp32 ONNX export ``fp32`` (:func:`quantize_onnx`), calibrated on
    ``calib_images`` training images; both timed on ONNX Runtime in the same interleaved rounds (batch 1) and,
    with a checkpoint, both evaluated on the test split. Written to ``<fp32>.int8.json`` and returned."""
    from hwnas.cost.latency.measure import time_models
    from hwnas.data import make_loaders

    if geometry.dataset in (None, "none"):
        raise ValueError("--int8 calibrates on training images: give --dataset (or a checkpoint in its run dir)")
    loaders = make_loaders(geometry.dataset, 64, seed=0, data_dir=data_dir, download=download, augment=False,
                           progress=False)
    int8 = fp32.with_name(fp32.stem + ".int8.onnx")
    quantize_onnx(fp32, int8, calibration_images(loaders.train, calib_images))
    timings = time_models([fp32, int8], "onnxruntime", threads, 1, 10, rounds,
                          input_shapes=(geometry.in_channels, geometry.input_size, geometry.input_size))
    report = {"fp32": str(fp32), "int8": str(int8), "calib_images": calib_images, "threads": threads,
              "rounds": rounds, "fp32_ms": timings[0].median_ms, "int8_ms": timings[1].median_ms,
              "speedup": timings[0].median_ms / timings[1].median_ms, "fp32_top1": None, "int8_top1": None}
    if checkpoint is not None:
        report["fp32_top1"] = onnx_top1(fp32, loaders.test, threads)
        report["int8_top1"] = onnx_top1(int8, loaders.test, threads)
    write_text_atomic(int8.with_suffix(".json"), json.dumps(report, indent=2) + "\n")
    return report

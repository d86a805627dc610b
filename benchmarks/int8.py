"""fp32 vs int8 on ONNX Runtime (issue 8): measured latency side by side, and top-1 where a trained model exists.

1. Three zoo networks at 224 px (untrained: latency does not depend on the weights; calibrated on random images).
2. Trained Fashion-MNIST networks (``--trained DIR ...``: training run directories holding ``best.pt`` and
   ``run.json``, e.g. the searched networks of ``benchmarks/search_quality.py``), int8-calibrated on
   ``--calib-images`` training images, both versions evaluated on the test split.

Every fp32/int8 pair is exported (BatchNorm folded), quantized with :mod:`hwnas.nn.quantize`, and all files are timed
together in interleaved rounds (1 thread, batch 1), so the ratio is taken in one run. The int8 latency table's
accuracy is measured with ``benchmarks/lut_accuracy.py --backends onnxruntime-int8``.

    .venv/bin/python benchmarks/int8.py --trained runs/bench_quality/seed0/tfnas_1/train ... --out runs/int8
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hwnas import zoo
from hwnas.cost.latency.measure import time_models
from hwnas.workflows.export import export_model
from hwnas.nn import build_model
from hwnas.nn.quantize import calibration_images, onnx_top1, quantize_onnx

ZOO = ("fbnet_a", "mobilenetv2_100", "mnasnet_a1")


def zoo_pair(name: str, out: Path) -> dict:
    spec = zoo.get(name).spec
    fp32, int8 = out / f"{name}.onnx", out / f"{name}.int8.onnx"
    export_model(build_model(spec, 1000, 3), spec, fp32, "onnx", 224)
    rng = np.random.default_rng(0)
    quantize_onnx(fp32, int8, [rng.standard_normal((8, 3, 224, 224), dtype=np.float32) for _ in range(4)])
    return {"network": name, "input": "224 px, ImageNet head", "fp32": fp32, "int8": int8, "shape": (3, 224, 224),
            "fp32_top1": None, "int8_top1": None}


def trained_pair(run_dir: Path, out: Path, calib_images: int) -> dict:
    from hwnas.data import make_loaders
    from hwnas.workflows.run_dir import load_trained, read_run

    spec, g = read_run(run_dir)
    name = run_dir.parent.name if run_dir.name == "train" else run_dir.name
    fp32, int8 = out / f"{name}.onnx", out / f"{name}.int8.onnx"
    export_model(load_trained(spec, g, run_dir / "best.pt"), spec, fp32, "onnx", g.input_size, g.in_channels)
    loaders = make_loaders(g.dataset, 64, seed=0, augment=False, progress=False)
    quantize_onnx(fp32, int8, calibration_images(loaders.train, calib_images))
    return {"network": name, "input": f"{g.input_size} px, {g.dataset}", "fp32": fp32, "int8": int8,
            "shape": (g.in_channels, g.input_size, g.input_size), "fp32_top1": onnx_top1(fp32, loaders.test),
            "int8_top1": onnx_top1(int8, loaders.test)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", nargs="*", default=list(ZOO))
    parser.add_argument("--trained", nargs="*", default=[], type=Path, help="training run directories")
    parser.add_argument("--calib-images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--out", default="runs/int8", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    pairs = [zoo_pair(n, args.out) for n in args.zoo] + [trained_pair(d, args.out, args.calib_images)
                                                         for d in args.trained]
    files = [p[k] for p in pairs for k in ("fp32", "int8")]
    shapes = [p["shape"] for p in pairs for _ in (0, 1)]
    timings = time_models(files, "onnxruntime", 1, 1, 10, args.rounds, input_shapes=shapes)
    lines = ["| network | input | fp32 ms (IQR) | int8 ms (IQR) | int8 / fp32 | fp32 top-1 | int8 top-1 |",
             "|---|---|--:|--:|--:|--:|--:|"]
    rows = []
    for i, p in enumerate(pairs):
        a, b = timings[2 * i], timings[2 * i + 1]
        top = ("-", "-") if p["fp32_top1"] is None else (f"{p['fp32_top1']:.2f} %", f"{p['int8_top1']:.2f} %")
        lines.append(f"| {p['network']} | {p['input']} | {a.median_ms:.3f} ({a.iqr_ms:.3f}) | "
                     f"{b.median_ms:.3f} ({b.iqr_ms:.3f}) | {b.median_ms / a.median_ms:.2f} | {top[0]} | {top[1]} |")
        rows.append({"network": p["network"], "input": p["input"], "fp32_ms": a.median_ms, "int8_ms": b.median_ms,
                     "fp32_top1": p["fp32_top1"], "int8_top1": p["int8_top1"]})
    (args.out / "int8.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

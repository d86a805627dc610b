"""`make demo`: the main job end to end on Fashion-MNIST, sized for a 2-core CPU.

Until the search methods land, the demo is the train-and-deploy half of an hwnas run: a reference network
(FBNet-A, adapted to 28x28 input) is trained for one epoch on Fashion-MNIST, exported to ONNX and TorchScript,
and the ONNX file is checked against PyTorch in a real ONNX Runtime session.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from hwnas import zoo
from hwnas.cost import count_macs, count_params, peak_activation_bytes
from hwnas.fileio import write_text_atomic
from hwnas.pipeline import export_arch, read_run, train_arch

DEMO_ARCH = "fbnet_a"
DEMO_DATASET = "fashion-mnist"


def run_demo(out: Path, epochs: int = 1, limit: int | None = None, progress: bool = True) -> dict:
    """Train, export and verify; writes ``out/demo.json`` and returns it."""
    out = Path(out)
    start = time.perf_counter()
    print(f"[1/3] training {DEMO_ARCH} on {DEMO_DATASET} for {epochs} epoch(s) -> {out / 'train'}")
    metrics = train_arch(zoo.get(DEMO_ARCH).spec, DEMO_DATASET, out / "train", epochs=epochs, limit=limit,
                         progress=progress, resume=True)
    spec, geometry = read_run(out / "train")
    print("[2/3] exporting to ONNX and TorchScript")
    checkpoint = out / "train" / "best.pt"
    onnx = export_arch(spec, geometry, checkpoint, out / "export" / "model.onnx", "onnx")
    script = export_arch(spec, geometry, checkpoint, out / "export" / "model.ts", "torchscript")
    size = geometry.input_size
    summary = {
        "arch": DEMO_ARCH, "dataset": DEMO_DATASET, "input_size": size, "epochs": metrics["epochs"],
        "test_top1": metrics["top1"], "test_top5": metrics["top5"],
        "params": count_params(spec, geometry.num_classes, geometry.in_channels),
        "macs": count_macs(spec, size, geometry.num_classes, geometry.in_channels),
        "peak_activation_bytes": peak_activation_bytes(spec, size, geometry.in_channels),
        "onnx": onnx.path, "onnx_max_abs_diff": onnx.max_abs_diff,
        "torchscript": script.path, "torchscript_max_abs_diff": script.max_abs_diff,
        "wall_time_s": time.perf_counter() - start,
    }
    write_text_atomic(out / "demo.json", json.dumps(summary, indent=2) + "\n")
    print(f"[3/3] done in {summary['wall_time_s']:.0f} s: test top-1 {summary['test_top1']:.2f}%, "
          f"{summary['params'] / 1e6:.2f}M params, {summary['macs'] / 1e6:.1f}M MACs at {size}px; "
          f"ONNX max |diff| {onnx.max_abs_diff:.1e} -> {out / 'demo.json'}")
    return summary

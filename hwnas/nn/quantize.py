"""Post-training static int8 quantization of an exported network, with ONNX Runtime's own tooling.

The FBNet models are published as int8 and timed as int8 on the phone (Wu et al. 2019, Sec. 4.2); the SPOS
deployment tools quantize too. Here: the fp32 ONNX export (BatchNorm already folded) is pre-processed (shape
inference and graph optimisation, ``quant_pre_process``), then quantized statically in the QDQ format: weights
int8 per output channel (symmetric), activations uint8 per tensor with ranges calibrated on a few hundred training
images (min-max, Jacob et al. 2018, Sec. 3). ONNX Runtime fuses the QDQ pairs into its integer kernels
(``QLinearConv`` and friends) when it optimises the session, so the file runs int8 where ORT has an int8 kernel
and stays fp32, between a dequantize and a quantize, where it has none.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hwnas.fileio import atomic_path


def quantize_onnx(fp32: str | Path, out: str | Path, calibration: Iterable[np.ndarray],
                  per_channel: bool = True) -> Path:
    """Write the int8 version of the ONNX model ``fp32`` to ``out``; ``calibration`` yields input batches
    (float32 ``(N, C, H, W)``, normalised as in training)."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType
    from onnxruntime.quantization import quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # the calibration sessions' warnings about unused initialisers are noise
    fp32 = Path(fp32)
    if not fp32.is_file():
        raise FileNotFoundError(f"ONNX model {fp32} does not exist")
    batches = [np.ascontiguousarray(b, dtype=np.float32) for b in calibration]
    if not batches:
        raise ValueError("int8 calibration needs at least one batch of images")
    name = _input_name(fp32)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.items, None)
            return None if batch is None else {name: batch}

    with tempfile.TemporaryDirectory() as scratch, atomic_path(Path(out)) as tmp:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    return Path(out)


def calibration_images(source: Any, images: int) -> list[np.ndarray]:
    """The first ``images`` images of a batch source's epoch 0 (its order, its normalisation), as numpy batches."""
    out, count = [], 0
    for x, _ in source.epoch_batches(0):
        take = min(images - count, x.shape[0])
        out.append(x[:take].detach().cpu().numpy())
        count += take
        if count >= images:
            break
    if count < images:
        raise ValueError(f"int8 calibration asked for {images} images; the training split has {count}")
    return out


def onnx_top1(path: str | Path, source: Any, threads: int = 1) -> float:
    """Top-1 (%) of an ONNX classifier over a batch source, in an ONNX Runtime CPU session."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    correct = total = 0
    for x, y in source.epoch_batches(0):
        logits = session.run(None, {name: x.detach().cpu().numpy().astype(np.float32)})[0]
        correct += int((logits.argmax(1) == y.cpu().numpy()).sum())
        total += int(y.shape[0])
    return 100.0 * correct / max(total, 1)


def _input_name(path: Path) -> str:
    import onnx

    return onnx.load(str(path), load_external_data=False).graph.input[0].name

"""Time a bundle of ONNX models on any device that has only onnxruntime and numpy.

``hwnas lut export-ops`` (every op of a latency table) and ``hwnas lut export-nets`` (whole sampled networks,
for calibration) write a directory of static-shape ONNX files, a ``manifest.json`` and a copy of this file. On the
target device::

    python runner.py DIR [--threads T] [--warmup W] [--rounds R]      # or: python -m hwnas.cost.latency.runner DIR

times every file and writes ``DIR/results.json``; ``hwnas lut import`` (ops) or ``hwnas lut calibrate
--imported-results`` (networks) reads it back on the machine that has hwnas.

This module is deliberately self-contained: it imports only the standard library at import time, and
onnxruntime and numpy when it runs; no torch, no other hwnas module (the target may be a phone-class board with
neither). It therefore repeats, rather than imports, the two things it shares with :mod:`hwnas.cost`:

* the ONNX Runtime session settings of :class:`hwnas.cost.latency.backends.OnnxRuntimeBackend` (CPU execution provider,
  ``threads`` intra-op threads, one inter-op thread, sequential execution, ``ORT_ENABLE_ALL``, spinning off when
  ``threads > 1``), and its input (standard normal float32, numpy seed 0);
* the method of :func:`hwnas.cost.latency.measure.time_models`: warm-up, then interleaved rounds A B C A B C ... within
  chunks of ``chunk`` models (as ``hwnas lut build`` times its ops), median and interquartile range
  (``statistics.quantiles(method="inclusive")``) of the per-round times.

A test keeps both copies equal to the originals.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
RESULTS = "results.json"
MANIFEST_FORMAT = "hwnas-onnx-bundle"
RESULTS_FORMAT = "hwnas-runner-results"
VERSION = 1
DEFAULTS = {"threads": 1, "warmup": 10, "rounds": 50, "number": 1, "chunk": 64}


def session_options(threads: int):
    """The ONNX Runtime settings every hwnas latency is measured with (see the module docstring)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if threads > 1:  # many sessions are interleaved: a spinning pool would steal the cores from the next one
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_info() -> dict[str, Any]:
    """Where the models ran (the same fields as :func:`hwnas.cost.latency.backends.device_info`; no host name)."""
    return {"cpu_model": cpu_model(), "machine": platform.machine(), "system": platform.system(),
            "logical_cpus": os.cpu_count(), "python": platform.python_version()}


def median_iqr(samples: list[float]) -> tuple[float, float]:
    """Median and interquartile range, exactly as :class:`hwnas.cost.latency.measure.Timing` computes them."""
    if len(samples) < 2:
        return float(samples[0]), 0.0
    q1, q2, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q2, q3 - q1


def load_manifest(directory: str | Path) -> dict[str, Any]:
    """The bundle's manifest; ``ValueError``/``FileNotFoundError`` naming the file when it is not one."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (make a bundle with `hwnas lut export-ops` or export-nets)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is corrupt or truncated (not valid JSON: {e})") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or data.get("version") != VERSION:
        raise ValueError(f"{path} is not an hwnas ONNX bundle manifest (format {MANIFEST_FORMAT!r}, "
                         f"version {VERSION} expected)")
    items = data.get("items")
    if not isinstance(items, list) or not items or not all(
            isinstance(i, dict) and isinstance(i.get("file"), str) and isinstance(i.get("input_shape"), list)
            for i in items):
        raise ValueError(f"{path}: 'items' must be a non-empty list of {{file, input_shape, ...}}")
    return data


def _prepare(path: Path, shape: list[int], threads: int):
    import numpy as np
    import onnxruntime as ort

    if not path.is_file():
        raise FileNotFoundError(f"ONNX model {path} listed in the manifest does not exist")
    session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    return lambda: session.run(None, feed)


def _time_chunk(runs: list, warmup: int, rounds: int, number: int) -> list[list[float]]:
    """Warm-up rounds, then timed interleaved rounds; per model, the ms of each round (mean of ``number`` calls)."""
    for _ in range(warmup):
        for run in runs:
            run()
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for i, run in enumerate(runs):
            start = time.perf_counter_ns()
            for _ in range(number):
                run()
            samples[i].append((time.perf_counter_ns() - start) / 1e6 / number)
    return samples


def run_bundle(directory: str | Path, threads: int | None = None, warmup: int | None = None,
               rounds: int | None = None, number: int | None = None, chunk: int | None = None,
               progress: bool = True) -> dict[str, Any]:
    """Time every model of the bundle in ``directory``; the results (also written to ``DIR/results.json``).

    Settings left ``None`` come from the manifest's ``timing`` (the source table's), else :data:`DEFAULTS`.
    """
    import onnxruntime as ort

    directory = Path(directory)
    manifest = load_manifest(directory)
    given = {"threads": threads, "warmup": warmup, "rounds": rounds, "number": number, "chunk": chunk}
    timing = manifest.get("timing") or {}
    settings = {k: v if v is not None else timing.get(k, DEFAULTS[k]) for k, v in given.items()}
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "warmup" else 1):
            raise ValueError(f"{name} must be a {'non-negative' if name == 'warmup' else 'positive'} integer, "
                             f"got {value!r}")
    items, results, started = manifest["items"], {}, time.perf_counter()
    for begin in range(0, len(items), settings["chunk"]):
        part = items[begin:begin + settings["chunk"]]
        runs = [_prepare(directory / item["file"], item["input_shape"], settings["threads"]) for item in part]
        samples = _time_chunk(runs, settings["warmup"], settings["rounds"], settings["number"])
        for item, times in zip(part, samples):
            median, iqr = median_iqr(times)
            results[item["file"]] = {"median_ms": round(median, 6), "iqr_ms": round(iqr, 6), "rounds": len(times)}
        if progress:
            print(f"timed {len(results)}/{len(items)} models ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr)
    return {
        "format": RESULTS_FORMAT, "version": VERSION, "units": "ms", "kind": manifest.get("kind"),
        "bundle_id": manifest.get("bundle_id"),
        "settings": {**settings, "batch_size": manifest.get("batch_size"), "order": "interleaved",
                     "statistic": "median", "spread": "iqr"},
        "device": device_info(), "onnxruntime": ort.__version__, "numpy": __import__("numpy").__version__,
        "session": {"execution_provider": "CPUExecutionProvider", "inter_op_threads": 1,
                    "execution_mode": "sequential", "graph_optimization": "ORT_ENABLE_ALL",
                    "allow_spinning": settings["threads"] == 1},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - started, 2), "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runner", description="Time the ONNX models of an hwnas bundle "
                                                                 "(needs only onnxruntime and numpy).")
    parser.add_argument("directory", help="the bundle: manifest.json and the .onnx files")
    for name, help_ in (("threads", "intra-op threads"), ("warmup", "untimed rounds first"),
                        ("rounds", "timed interleaved rounds"), ("number", "calls per timed sample"),
                        ("chunk", "models timed together (interleaved)")):
        parser.add_argument(f"--{name}", type=int, help=f"{help_} (default: the manifest's, else {DEFAULTS[name]})")
    parser.add_argument("--out", help=f"results file (default DIR/{RESULTS})")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    try:
        data = run_bundle(args.directory, args.threads, args.warmup, args.rounds, args.number, args.chunk,
                          progress=not args.quiet)
    except (ValueError, OSError, ImportError) as e:
        print(f"runner: error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.directory) / RESULTS
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out)  # atomic: a reader never sees half a results file
    print(f"wrote {out}: {len(data['results'])} models on {data['device']['cpu_model']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

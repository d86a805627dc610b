"""Time ONNX files the way a user would, with nothing of hwnas: the independent check of hwnas's "measured".

A user who deploys a network and checks its latency writes a loop like this one: one ONNX Runtime session per
file (CPU provider, ``--threads`` intra-op threads, one inter-op thread, sequential execution, every graph
optimisation), a fixed random input, some warm-up calls, then per-call wall-clock times and their median, each
network warm and on its own, in a fresh process that has imported only onnxruntime and numpy. It imports no
hwnas module on purpose: what it checks (:mod:`hwnas.cost.latency.measure`) must not be able to hide an error
in both (the same session options as hwnas.cost.latency.runner, written again here for that reason).
``benchmarks/lut_user_check.py`` scores the table against it, and a test keeps hwnas's measurement of
an exported file in agreement with it.

    python benchmarks/plain_loop.py A.onnx B.onnx ... [--threads 1] [--warmup 10] [--calls 100] [--passes 3]

prints one JSON object: per file the median per-call ms of every pass and the median over passes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def time_file(path: str, threads: int, warmup: int, calls: int) -> float:
    """Median ms of ``calls`` single calls of the model in ``path``, after ``warmup`` untimed ones."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    entry = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in entry.shape]  # a symbolic batch axis runs batch 1
    feed = {entry.name: np.random.default_rng(0).standard_normal(shape, dtype=np.float32)}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def time_files(paths: list[str], threads: int = 1, warmup: int = 10, calls: int = 100,
               passes: int = 3) -> dict[str, dict]:
    """Per file: ``passes_ms`` (the median of each pass over all files, in order) and ``ms`` (their median)."""
    runs = [[time_file(p, threads, warmup, calls) for p in paths] for _ in range(passes)]
    return {p: {"passes_ms": [run[i] for run in runs], "ms": statistics.median(run[i] for run in runs)}
            for i, p in enumerate(paths)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="ONNX files")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--calls", type=int, default=100, help="timed calls per file and pass")
    parser.add_argument("--passes", type=int, default=3, help="passes over all files (median per file)")
    args = parser.parse_args(argv)
    json.dump(time_files(args.files, args.threads, args.warmup, args.calls, args.passes), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

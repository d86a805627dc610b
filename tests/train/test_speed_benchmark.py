"""benchmarks/cpu_training_speed.py and layout_precision.py keep working: their CLIs in smoke mode."""

import importlib.util
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "cpu_training_speed.py"
TINY_YAML = str(ROOT / "tests" / "search" / "tiny_space.yaml")
WORKLOADS = ("child train (light)", "child train (medium)", "child train (heaviest)", "supernet train (single path)",
             "supernet train (entangled, single path)", "child eval (medium)", "supernet eval (one path)")


def load_bench(path: Path = BENCH):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_cli_quick_on_the_tiny_space(capsys):
    bench = load_bench()
    threads = torch.get_num_threads()
    try:
        bench.main(["--quick", "--threads", "1", "--space", TINY_YAML, "--width-mult", "1"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert "tiny_search space" in out and "channels_last / contiguous" in out
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in out.splitlines() if " | 1 | " in line}
    assert set(rows) == set(WORKLOADS)
    for cells in rows.values():
        assert float(cells[2]) > 0 and float(cells[3]) > 0  # images/s in both layouts
        assert float(cells[-1].rstrip(" |")) < 1e-4  # the layouts compute the same logits, up to float rounding


def test_precision_quick(capsys):
    bench = load_bench(ROOT / "benchmarks" / "layout_precision.py")
    threads = torch.get_num_threads()
    try:
        bench.main(["--quick"])
    finally:
        torch.set_num_threads(threads)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in capsys.readouterr().out.splitlines()
            if line.startswith("| float")}
    assert set(rows) == {"float32 NCHW", "float32 NHWC", "float64 NHWC"}
    # In exact arithmetic the layout changes nothing: float64 NHWC equals float64 NCHW to rounding.
    assert float(rows["float64 NHWC"].split(" | ")[1].split()[0]) < 1e-10

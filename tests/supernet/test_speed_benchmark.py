"""benchmarks/supernet_speed.py keeps working (1 round, tiny batch): its core function, its table, its CLI."""

import importlib.util
import sys
from pathlib import Path

from .tiny_spaces import TINY_SPACES

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "supernet_speed.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("supernet_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_measure_and_table_on_a_tiny_space():
    bench = load_bench()
    rows = bench.measure("tiny", TINY_SPACES["ir_in"](), batch=2, rounds=1, warmup=0)
    assert [r.mode for r in rows] == list(bench.MODES)
    assert all(len(r.ms) == 1 and r.ms[0] > 0 and r.saved_bytes > 0 for r in rows)
    saved = {r.mode: r.saved_bytes for r in rows}
    assert saved["full mixture"] > saved["two-path sample"] >= saved["gated path (k=1)"] >= saved["child"]
    table = bench.format_table(rows, batch=2, rounds=1, warmup=0)
    assert table.count("| tiny |") == len(bench.MODES) and "| tiny | child |" in table and "1.00" in table


def test_cli_quick_on_one_real_space(capsys):
    bench = load_bench()
    bench.main(["--quick", "--spaces", "spos", "--width-mult", "0.25", "--batch", "2"])
    out = capsys.readouterr().out
    assert "| spos | full mixture |" in out and "saved_tensors_hooks" in out

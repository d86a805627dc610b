"""benchmarks/hardcore_schedule.py's pure parts: the budgets and the table (no training)."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("hardcore_schedule", BENCHMARKS / "hardcore_schedule.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_budgets_grow_with_the_fraction(bench):
    low, mid, high = (bench.budget_macs("fbnet", 0.5, f) for f in (0.0, 0.5, 1.0))
    assert low < mid < high


def test_table_has_a_row_per_schedule_and_budget_and_a_summary(bench):
    rows = [{"schedule": s, "fraction": f, "seed": seed, "use": 0.9, "projected": False, "val_top1": 80.0,
             "time_s": 10.0} for s in bench.SCHEDULES for f in (0.2, 0.4) for seed in (0, 1)]
    text = bench.table(rows)
    assert text.count("\n") == 1 + 2 * len(bench.SCHEDULES) + len(bench.SCHEDULES)
    assert "| fw | 0.2 | 0.900, 0.900 | 0/2 | 80.0, 80.0 | 10 |" in text
    assert "| **fixed, all** | | mean 0.900 | 0/4 | mean 80.00 | 10 |" in text

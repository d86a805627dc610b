"""Seeded searches of every method, recorded, so that a refactoring can prove it changed no result.

Each method runs once on the tiny test space and 640 learnable fake Fashion-MNIST images, with a deterministic
latency table (an op 'times' at (parameters + 1) / 1000 ms) and a latency budget that binds, from seed 0. Every
field of ``result.json`` that does not depend on the clock or on the paths of this run (the architecture, the
choice, every predicted cost, the budgets, the config, the whole history) is kept:

    python benchmarks/seeded_equivalence.py --record benchmarks/results/seeded_before.json   # before a change
    python benchmarks/seeded_equivalence.py --compare benchmarks/results/seeded_before.json  # after it

``--compare`` prints one row per method and exits non-zero if any result differs. Floats are compared exactly:
the same code on the same machine and torch build gives the same bits (on another CPU the kernels may differ,
so record and compare on one machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The settings of tests/search/test_methods.py, copied on purpose: the record must not change when the tests do.
SETTINGS = {
    "spos": {"epochs": 2, "recal_batches": 1, "score_batches": 1, "evolution.population": 6, "evolution.top_k": 3,
             "evolution.mutations": 3, "evolution.crossovers": 3, "evolution.generations": 2},
    "random": {"epochs": 2, "recal_batches": 1, "score_batches": 1, "random_candidates": 8,
               "evolution.population": 4, "evolution.top_k": 2},
    "fbnet": {"epochs": 2, "warmup_epochs": 1, "samples": 2},
    "tfnas": {"epochs": 2, "warmup_epochs": 1},
    "hardcore": {"heaviest_epochs": 1, "epochs": 2, "bcfw.steps": 10},
}
VOLATILE = {"search_time_s", "lut"}  # the clock and this run's temporary paths


def _inputs(work: Path) -> tuple[Path, Path, Any]:
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.cost.latency.build import build_space_table
    from hwnas.space import get_space
    from tests.cost.tiny import FakeBackend
    from tests.data.fakes import make_fake_fashion
    from tests.search.conftest import TINY_YAML

    data = work / "data"
    make_fake_fashion(data, n_train=640, n_test=64)
    space = get_space(TINY_YAML, 28, 1, 10)
    lut = work / "lut.json"
    build_space_table(space, lut, backend=FakeBackend(), warmup=0, rounds=1, progress=False)
    return data, lut, (space, LatencyTable.load(lut))


def _budget_ms(space: Any, table: Any, largest_widths: bool) -> float:
    """45 % of the way from the lightest reachable network to the heaviest: it binds every method."""
    from hwnas.search.budgets import Budgets, make_budgets

    (latency,) = make_budgets(Budgets(max_latency_ms=1.0), space, table)
    low = latency.separable.minimum(largest_widths=largest_widths)
    return (low + 0.45 * (latency.value(space.heaviest()) - low)) * latency.scale


def run_all() -> dict[str, Any]:
    from hwnas.search import Budgets, search
    from hwnas.search.registry import get_method

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, lut, (space, table) = _inputs(work)
        from tests.search.conftest import TINY_YAML

        for method, settings in SETTINGS.items():
            budget = _budget_ms(space, table, largest_widths=not get_method(method).searches_widths)
            result = search(method, TINY_YAML, "fashion-mnist", out=work / method, lut=lut,
                            budgets=Budgets(max_latency_ms=budget), overrides=settings, batch_size=32, seed=0,
                            data_dir=str(data), progress=False, tensorboard=False)
            saved = json.loads((work / method / "result.json").read_text())
            assert saved["arch"] == result["arch"]
            results[method] = {k: v for k, v in saved.items() if k not in VOLATILE}
            print(f"{method:9s} {saved['arch']}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", type=Path, help="write the results here")
    mode.add_argument("--compare", type=Path, help="compare with results recorded here")
    args = parser.parse_args(argv)
    results = run_all()
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(results)} methods in {args.record}")
        return 0
    before = json.loads(args.compare.read_text())
    print(f"\n| method | same arch | same history | identical result.json (but {', '.join(sorted(VOLATILE))}) |")
    print("|---|---|---|---|")
    bad = 0
    for method, now in results.items():
        old = before.get(method, {})
        same = json.dumps(old, sort_keys=True) == json.dumps(now, sort_keys=True)
        bad += not same
        diff = sorted(k for k in set(old) | set(now) if old.get(k) != now.get(k))
        print(f"| {method} | {old.get('arch') == now.get('arch')} | {old.get('history') == now.get('history')} | "
              f"{'yes' if same else 'no: ' + ', '.join(diff)} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""``benchmarks/search_quality.py``'s cache layout and the pieces every phase shares: where the table, budgets,
searches and finalist rows live in ``--out``, the space and its predictor, the deployed timer with the run's drift
references, and the list of networks the table judges."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recipe_ranking import CHANNELS, CLASSES, SIZE, digest, read_json
from quality_table import REFERENCES

MEMBER = "mobilenetv2_100"  # the finalist stage's reference entry (hwnas run's default finalists.references)


def lut_path(out: Path) -> Path:
    return out / "lut_fbnet.json"


def the_space(args: argparse.Namespace) -> Any:
    from hwnas.space import get_space

    return get_space("fbnet", SIZE, CHANNELS, CLASSES, args.width_mult)


def predictor(out: Path, space: Any) -> Any:
    from hwnas.cost.latency.table import LatencyTable

    table = LatencyTable.load(lut_path(out))
    return lambda choice: float(table.predict(space.to_spec(choice)))


def budgets_ms(out: Path) -> list[float]:
    saved = read_json(out / "budgets.json")
    if saved is None:
        raise SystemExit(f"{out} has no budgets yet: run the lut phase first")
    return saved["budgets_ms"]


def encode_choice(space: Any, choice: Mapping[str, Any]) -> str:
    from hwnas.arch import encode

    return encode(space.to_spec(choice))


@contextmanager
def deployed_timer(out: Path, args: argparse.Namespace, passes: int) -> Iterator[Any]:
    """A DeployedTimer with the table's settings, the run's drift references and their baselines of the lut
    phase (every phase's measurements are corrected to the same machine state)."""
    from hwnas.search.measured import DeployedTimer

    drift = read_json(out / "drift.json")
    with tempfile.TemporaryDirectory(prefix="search_quality_") as work:  # each process exports its own references
        yield DeployedTimer.from_table(lut_path(out), work, passes=passes, references=drift["references"],
                                       baselines=drift["baselines_ms"], rounds=args.measure_rounds)


def timed(timer: Any, out: Path, arch: str) -> Any:
    """``arch`` timed alone as deployed: a drift-corrected Measurement (its ONNX file named by its digest)."""
    return timer(arch, out / "onnx" / f"{digest(arch)}.onnx")


def search_dir(out: Path, seed: int, method: str, index: int) -> Path:
    return out / "search" / f"s{seed}" / f"{method}_b{index}"


def row_path(out: Path, seed: int, method: str, index: int) -> Path:
    return out / "rows" / f"s{seed}_{method}_b{index}.json"


def final_networks(out: Path, args: argparse.Namespace) -> list[tuple[int, int, str, str]]:
    """``(seed, budget index, label, arch)`` of every network the table judges: the rows' winners and the
    references."""
    jobs = []
    for seed in args.seeds:
        for i, _ in enumerate(budgets_ms(out)):
            for method in args.methods:
                row = read_json(row_path(out, seed, method, i))
                if row is not None:
                    jobs.append((seed, i, f"{method} b{i}", row["arch"]))
            for family, name in REFERENCES.items():
                ref = read_json(out / "references" / f"{name}_b{i}.json")
                if ref is not None:
                    jobs.append((seed, i, f"{family} b{i}", ref["arch"]))
    return jobs

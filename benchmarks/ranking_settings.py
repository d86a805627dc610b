"""The settings and cache helpers of ``benchmarks/supernet_ranking.py``: the space and data, the stand-alone
recipes (the truth every supernet is ranked against), the supernet configurations compared, and the cache's
JSON writing and frozen settings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ranking_report import read_json  # beside this file

SPACE = ("fbnet", 28, 1, 10, 0.5)  # name, input size, channels, classes, width multiplier
DATASET = "fashion-mnist"

# The stand-alone recipe (module docstring); QUICK_TRUTH for the smoke run.
TRUTH = {"epochs": 2, "limit": 24000, "batch_size": 128, "val_fraction": 0.1, "lr": 0.1, "warmup_epochs": 0.25}
QUICK_TRUTH = {"epochs": 1, "limit": 600, "batch_size": 64, "val_fraction": 0.1, "lr": 0.05, "warmup_epochs": 0.0}
# The longer recipe (``truth-long``): three times the epochs of TRUTH on the same images. Every supernet ranks the
# band backwards against TRUTH, and 2-epoch recipes are known to favour shallow networks that lose when trained
# longer (docs/DESIGN.md): this checks whether the band's truth itself moves with the recipe.
LONG_TRUTH = {**TRUTH, "epochs": 6}

# Supernet configurations: --set-style overrides of the spos OneShotConfig. The path-sampler variants train
# under the band's budget B (the search's constraint), on top of the best configuration.
BEST = {"sharing": "entangled", "zero_init_residual": True, "sandwich": True, "distill": True,
        "lr_warmup_fraction": 0.05, "path_sampler": "uniform"}
# Every configuration names its supernet explicitly, so that a change of spos's defaults cannot change a row.
CONFIGS: dict[str, dict[str, Any]] = {
    "independent-uniform": {"sharing": "independent", "zero_init_residual": False},  # SPOS's own supernet
    "entangled-uniform": {"sharing": "entangled", "zero_init_residual": True},  # spos's default since issue 18
    "entangled-sandwich-distill": BEST,
    # The three path samplers on spos's default supernet, where the sampler alone picks every trained path.
    "entangled-constrained": {"sharing": "entangled", "zero_init_residual": True, "path_sampler": "constrained"},
    "entangled-strolling": {"sharing": "entangled", "zero_init_residual": True, "path_sampler": "strolling"},
    # Skip-heavy networks train well stand-alone but are rare among uniform paths: spread the skip share evenly.
    "entangled-skiprate": {"sharing": "entangled", "zero_init_residual": True, "path_sampler": "skip_rate"},
    "best-constrained": {**BEST, "path_sampler": "constrained"},
    "best-strolling": {**BEST, "path_sampler": "strolling"},
}
# The search's second phase shrunk to one scored candidate: the benchmark scores its own architectures.
MINIMAL_SEARCH = {"evolution.population": 1, "evolution.top_k": 1, "evolution.generations": 1,
                  "evolution.mutations": 0, "evolution.crossovers": 0, "recal_batches": 1, "score_batches": 1}
CURVE_POINTS = 10


def write_json(path: Path, data: Any) -> None:
    from hwnas.fileio import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data)


def check_settings(out: Path, settings: Mapping[str, Any]) -> None:
    """The run's frozen settings in ``OUT/settings.json``: a cache made with others is an error, not a mix."""
    path = out / "settings.json"
    saved = read_json(path)
    if saved is None:
        write_json(path, dict(settings))
    elif saved != json.loads(json.dumps(dict(settings))):
        diff = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
        raise SystemExit(f"{out} holds a run with other settings ({', '.join(diff)}); use another --out")


def the_space() -> Any:
    from hwnas.space import get_space

    return get_space(*SPACE)

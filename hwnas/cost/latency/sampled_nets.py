"""The networks a calibration is fitted on and validated with: drawn from the space, remembered by digest.

A calibration (:mod:`hwnas.cost.latency.calibrate`) is fitted on K networks sampled from the table's space and
honestly validated on others (:func:`hwnas.cost.latency.validate.validate_table`): the validation draws with
another seed and excludes every network whose digest the calibration lists (:func:`fitted_networks`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hwnas.arch import encode
from hwnas.arch.spec import ArchSpec
from hwnas.space.base import SearchSpace
from hwnas.space.labels import is_depth_label

if TYPE_CHECKING:
    from hwnas.cost.latency.table import LatencyTable

MAX_MISSES = 1000  # draws in a row without a new network before a small space is declared exhausted


def arch_digest(spec: ArchSpec) -> str:
    """A short fingerprint of a network (its canonical text): how a calibration remembers what it was fitted on."""
    return hashlib.sha256(encode(spec).encode()).hexdigest()[:12]


SAMPLERS = ("uniform", "spread", "mixed")


def draw_choice(space: SearchSpace, rng: random.Random, sampler: str = "uniform") -> dict:
    """One architecture of ``space``.

    ``uniform``: every decision uniformly (the validation protocol). ``spread``: first a lightness ``p ~ U(0,
    0.9)``, then every decision that can skip skips with probability ``p`` (depth decisions take their smallest
    depth) and otherwise draws uniformly among its other values: the networks cover the whole latency range,
    including the light ones a tight budget makes a search return, which uniform draws (1 skip in 9 per FBNet
    layer) almost never produce. ``mixed``: uniform or spread with even odds.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
    if sampler == "mixed":
        sampler = "uniform" if rng.random() < 0.5 else "spread"
    if sampler == "uniform":
        return space.sample(rng)
    light = rng.uniform(0.0, 0.9)
    choice = {}
    for dim in space.dims():
        values = list(dim.values)
        lightest = "skip" if "skip" in values else values[0] if is_depth_label(dim.label) else None
        if lightest is not None and rng.random() < light:
            choice[dim.label] = lightest
        else:
            others = [v for v in values if v != lightest] or values
            choice[dim.label] = rng.choice(others)
    return choice


def sample_specs(space: SearchSpace, n: int, seed: int, exclude: Sequence[str] = (),
                 sampler: str = "uniform") -> list[ArchSpec]:
    """``n`` distinct networks drawn from ``space`` with ``random.Random(seed)`` and ``sampler``
    (:func:`draw_choice`), none of whose digests (:func:`arch_digest`) is in ``exclude``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of sampled networks must be a positive integer, got {n!r}")
    rng, seen, specs, misses = random.Random(seed), set(exclude), [], 0
    while len(specs) < n:
        spec = space.to_spec(draw_choice(space, rng, sampler))
        digest = arch_digest(spec)
        if digest in seen:
            misses += 1
            if misses > MAX_MISSES:
                raise ValueError(f"space {space.name!r} has fewer than {n} distinct networks outside the "
                                 f"{len(exclude)} excluded ones")
            continue
        seen.add(digest)
        specs.append(spec)
        misses = 0
    return specs


def fitted_networks(table: LatencyTable) -> list[str]:
    """Digests of the networks the table's calibration was fitted on (none when it has no calibration)."""
    return list(((table.calibration or {}).get("fit") or {}).get("networks") or [])

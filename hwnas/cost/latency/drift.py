"""Drift references: a few fixed networks of a space, timed beside every measurement, so that a measurement taken
later can be put in the units of an earlier one.

A shared machine's speed moves by 10-25 % within the hour (docs/DESIGN.md). A table is calibrated at one moment;
a user times a network at another, and the difference between the two is the machine's, not the table's. The
calibration therefore times its references (:func:`drift_references`) right after its networks and keeps their
times (:func:`table_references`); ``hwnas latency --measure``, ``hwnas lut validate`` and the search's measured
loop (:class:`hwnas.search.measured.DeployedTimer`) time them again and report the *drift factor*: the median
over references of now / then. A measurement divided by it is in the calibration's units, the units of every
prediction of the table.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwnas.cost.latency.table import LatencyTable

DEFAULT_COUNT = 3


def drift_references(space: Any, count: int = DEFAULT_COUNT) -> list[str]:
    """Arch texts of ``count`` drift references of ``space``: its lightest network, its middle one (the middle
    value of every dimension), then fixed-seed uniform draws (``random.Random(0)``), without repeats.

    Why these: the lightest is the cheapest to time; the middle one is shaped like the networks a budget picks
    (weights and activations of the same size), so a slow spell that hits their caches or memory bandwidth hits it
    alike; more than one, so that the median over references outvotes one that misbehaves. None is the heaviest
    network: at 224 px that costs several times the network under test in every pass. A space with fewer distinct
    networks than ``count`` gives fewer.
    """
    from hwnas.arch import encode

    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    middle = {d.label: d.values[len(d.values) // 2] for d in space.dims()}
    rng = random.Random(0)
    choices = [space.lightest(), middle, *(space.sample(rng) for _ in range(4 * count))]
    texts: list[str] = []
    for choice in choices:
        if len(texts) == count:
            break
        text = encode(space.to_spec(choice))
        if text not in texts:
            texts.append(text)
    return texts


def drift_factor(now_ms: Sequence[float], baseline_ms: Sequence[float]) -> float:
    """The median over references of ``now / baseline``: > 1 when the machine runs slower than at the baseline."""
    if len(now_ms) != len(baseline_ms) or not now_ms or min(baseline_ms) <= 0:
        raise ValueError(f"drift needs one baseline > 0 per reference, got {list(now_ms)} and {list(baseline_ms)}")
    return statistics.median(n / b for n, b in zip(now_ms, baseline_ms))


def table_references(table: LatencyTable) -> tuple[list[str], list[float]] | None:
    """The calibration's drift references and their times then (ms), or None (no calibration, one made before
    references were kept, or one imported from another device, whose references cannot be timed here)."""
    refs = (table.calibration or {}).get("drift_references")
    if not refs or table.provenance.get("source") == "imported":
        return None
    return list(refs["archs"]), [float(v) for v in refs["ms"]]


def measure_references(table: LatencyTable, archs: Sequence[str], passes: int = 1,
                       rounds: int | None = None) -> list[float]:
    """The references' times now, each alone in its deployment export, as the calibration's networks are timed
    (:func:`hwnas.cost.latency.measured_nets.measure_here`; median over ``passes``)."""
    from hwnas.arch import decode
    from hwnas.cost.latency.measured_nets import measure_here

    return measure_here(table, [decode(a) for a in archs], rounds=rounds, passes=passes, order="alone").median_ms

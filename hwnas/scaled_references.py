"""Reference networks scaled to a latency budget, *measured*: the simple alternative a search has to beat.

A hand-designed family scaled uniformly in width and depth is the baseline a NAS result is compared with (the
MnasNet, FBNet and MobileNetV3 papers all do so). For a budget ``B``, :func:`scale_to_budget` adapts the zoo
network to the input (:func:`hwnas.arch.for_input_size`), scales it over a grid of width multipliers
(:func:`hwnas.arch.scale_width`, channels to multiples of 8 as the papers round them) and depth multipliers
(:func:`hwnas.arch.scale_depth`), and returns the one with the most MACs whose latency measured on the target
(alone, as it runs deployed) meets ``B``.

Measuring all ``len(WIDTHS) x len(DEPTHS)`` networks costs a second or two each; latency grows with MACs within
a family closely enough that a bisection over the MAC order, each probe measured, finds the edge in about five
measurements (then its two neighbours are measured too, as the order is not exactly the latency order).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwnas.arch import encode, for_input_size, scale_depth, scale_width
from hwnas.arch.spec import ArchSpec

# A grid fine enough that the chosen scaling uses most of a small budget: with steps of 0.05-0.1 in width the
# quick preset's MobileNetV2 landed at 65 % of its 0.16 ms budget (x0.2 width, x0.34 depth; the next step up
# was over). Channels round to multiples of 8, so neighbouring widths often give the same network (kept once).
WIDTHS = (0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.75, 0.875, 1.0)
DEPTHS = (0.34, 0.5, 0.67, 0.75, 1.0)  # 0.34: one block per stage (MobileNetV2's longest stage repeats 4)


def scaled_grid(spec: ArchSpec, input_size: int, num_classes: int, in_channels: int,
                widths=WIDTHS, depths=DEPTHS) -> list[dict[str, Any]]:
    """Every (width, depth) scaling of ``spec`` at the input, with its MACs, lightest first; repeats dropped."""
    from hwnas.cost import count_macs

    adapted = for_input_size(spec, input_size)
    grid, seen = [], set()
    for d in depths:
        for w in widths:
            scaled = scale_width(scale_depth(adapted, d), w)
            arch = encode(scaled)
            if arch in seen:
                continue
            seen.add(arch)
            grid.append({"width": w, "depth": d, "arch": arch,
                         "macs": count_macs(scaled, input_size, num_classes=num_classes, in_channels=in_channels)})
    grid.sort(key=lambda g: g["macs"])
    return grid


def scale_to_budget(spec: ArchSpec, budget_ms: float, measure: Callable[[str], float], *, input_size: int,
                    num_classes: int, in_channels: int, widths=WIDTHS, depths=DEPTHS,
                    margin: float = 0.0) -> dict[str, Any]:
    """The most-MACs scaling of ``spec`` measured within ``(1 - margin) x budget_ms`` (module docstring), as
    ``{width, depth, arch, macs, measured_ms, meets_budget, measured: [every probe]}``; when none meets it, the
    lightest, flagged. ``measure(arch)``: ms on the target. ``margin``: the room a searched network leaves for
    the final measurement's noise (:data:`hwnas.search.filling.MARGIN`), so that both sides get the same."""
    if budget_ms <= 0:
        raise ValueError(f"budget_ms must be > 0, got {budget_ms}")
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    limit = (1 - margin) * budget_ms
    grid = scaled_grid(spec, input_size, num_classes, in_channels, widths, depths)
    times: dict[int, float] = {}

    def time_of(i: int) -> float:
        if i not in times:
            times[i] = float(measure(grid[i]["arch"]))
        return times[i]

    lo, hi = 0, len(grid) - 1  # bisection for the last index in MAC order that meets the budget
    if time_of(lo) > limit:
        best = None
    else:
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if time_of(mid) <= limit:
                lo = mid
            else:
                hi = mid - 1
        best = lo
        for j in (best - 1, best + 1, best + 2):  # neighbours in MAC order may be faster or slower than MACs say
            if 0 <= j < len(grid):
                time_of(j)
    fits = [i for i, t in times.items() if t <= limit]
    pick = max(fits, key=lambda i: grid[i]["macs"]) if fits else 0
    probes = [{**grid[i], "measured_ms": t} for i, t in sorted(times.items())]
    return {**grid[pick], "measured_ms": times[pick], "meets_budget": bool(fits), "budget_ms": budget_ms,
            "measured": probes}

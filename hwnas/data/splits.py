"""Deterministic, seeded splits of index sets (e.g. the 80/20 weight/arch split)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from hwnas.data.sampling import STREAM_LIMIT, STREAM_SPLIT, make_generator


def _check_fractions(fractions: Sequence[float]) -> list[float]:
    fracs = [float(f) for f in fractions]
    if not fracs or any(not f > 0 for f in fracs) or not math.isclose(sum(fracs), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must be positive and sum to 1, got {tuple(fractions)}")
    return fracs


def _cut(order: torch.Tensor, fracs: list[float]) -> list[torch.Tensor]:
    """Cut ``order`` into consecutive parts; boundaries round the cumulative fractions."""
    n = len(order)
    bounds = [0] + [round(n * sum(fracs[: i + 1])) for i in range(len(fracs) - 1)] + [n]
    return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def split_indices(
    n: int,
    fractions: Sequence[float] = (0.8, 0.2),
    seed: int = 0,
    *,
    labels: torch.Tensor | Sequence[int] | None = None,
) -> list[torch.Tensor]:
    """Partition ``range(n)`` into disjoint, sorted int64 index tensors of the given fractions.

    With ``labels`` the split is stratified: each class is split separately,
    so every part keeps the class proportions (sizes may then differ from the
    unstratified ones by rounding, at most one per class and part).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    fracs = _check_fractions(fractions)
    gen = make_generator(seed, STREAM_SPLIT)
    if labels is None:
        parts = _cut(torch.randperm(n, generator=gen), fracs)
    else:
        labels = torch.as_tensor(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
        per_class: list[list[torch.Tensor]] = [[] for _ in fracs]
        for cls in torch.unique(labels):  # sorted, so the draw order is fixed
            members = torch.nonzero(labels == cls).flatten()
            shuffled = members[torch.randperm(len(members), generator=gen)]
            for bucket, part in zip(per_class, _cut(shuffled, fracs)):
                bucket.append(part)
        parts = [torch.cat(b) if b else torch.empty(0, dtype=torch.int64) for b in per_class]
    return [torch.sort(p).values for p in parts]


def weight_arch_split(
    n: int, seed: int = 0, *, arch_fraction: float = 0.2, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight indices, arch indices): the split supernet search trains on."""
    if not 0 < arch_fraction < 1:
        raise ValueError(f"arch_fraction must be in (0, 1), got {arch_fraction}")
    weights, arch = split_indices(n, (1 - arch_fraction, arch_fraction), seed, labels=labels)
    return weights, arch


def limit_indices(n: int, limit: int | None, seed: int = 0) -> torch.Tensor:
    """Sorted indices of the first ``limit`` samples of a seeded shuffle (all if None or >= n)."""
    if limit is None:
        return torch.arange(n)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if limit >= n:
        return torch.arange(n)
    order = torch.randperm(n, generator=make_generator(seed, STREAM_LIMIT))
    return torch.sort(order[:limit]).values

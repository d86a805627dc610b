"""What a finished search prefers, per decision: the scores that the post-search stages (budget filling and the
finalist pool, :mod:`hwnas.search.filling`, :mod:`hwnas.search.finalists`) trade against latency.

Every method leaves an additive preference over the decisions of its space (label -> value -> score, as
:func:`hwnas.search.parts.projection.preference` reads it) in its result, under ``preference``:

* fbnet, tfnas: the log-probabilities of the final architecture distribution (softmax of theta), the quantity
  FBNet samples its final architectures from (Wu et al. 2019, Sec. 3.3);
* hardcore: the log of the BCFW solution's block and depth probabilities (Nayman et al. 2021, Sec. 3.3);
* spos, random: a search over a supernet has no distribution, so its preference is the *marginal* supernet
  score of each value: the mean architecture-split top-1 of the scored candidates that took it, minus the mean
  of all, shrunk towards zero for values seen in few candidates (:func:`marginal_scores`). The evolution's
  population is where these come from, so they say what the supernet liked among networks near the budget.

In the JSON form a label maps to a list of ``[value, score]`` pairs, so that integer values (depths, widths)
keep their type through a file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Scores = dict[str, dict[Any, float]]

SHRINK = 2.0
"""A value seen in ``n`` candidates keeps ``n / (n + SHRINK)`` of its marginal: two sightings count half."""


def scores_to_json(scores: Mapping[str, Mapping[Any, float]]) -> dict[str, list[list[Any]]]:
    """``scores`` in the type-keeping JSON form of the module docstring."""
    return {label: [[value, float(score)] for value, score in row.items()] for label, row in scores.items()}


def scores_from_json(data: Mapping[str, Sequence[Sequence[Any]]] | None) -> Scores:
    """The inverse of :func:`scores_to_json`; ``None`` (a result from before preferences were kept) gives ``{}``."""
    if not data:
        return {}
    return {label: {(tuple(v) if isinstance(v, list) else v): float(s) for v, s in pairs}
            for label, pairs in data.items()}


def marginal_scores(scored: Sequence[tuple[Mapping[str, Any], float]], shrink: float = SHRINK) -> Scores:
    """Per label and value, the shrunk mean score of the candidates with that value minus the overall mean.

    ``scored``: ``(choice, score)`` pairs (a one-shot search's candidates and their supernet top-1). Empty for
    fewer than two candidates: one score says nothing about any single decision.
    """
    if len(scored) < 2:
        return {}
    overall = sum(s for _, s in scored) / len(scored)
    sums: dict[str, dict[Any, list[float]]] = {}
    for choice, score in scored:
        for label, value in choice.items():
            sums.setdefault(label, {}).setdefault(_key(value), []).append(score)
    out: Scores = {}
    for label, rows in sums.items():
        out[label] = {value: (sum(v) / len(v) - overall) * len(v) / (len(v) + shrink) for value, v in rows.items()}
    return out


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def result_preference(result: Mapping[str, Any]) -> Scores:
    """The preference a result carries (``{}`` when it has none: then every change counts as neutral)."""
    return scores_from_json(result.get("preference"))


POOL = 16
"""At most this many candidates a result offers the finalist stage (``finalist_pool``), best first."""


def distinct(choices: Sequence[Mapping[str, Any]], limit: int = POOL) -> list[dict[str, Any]]:
    """``choices`` without repeats, in order, at most ``limit``."""
    seen, out = set(), []
    for choice in choices:
        key = tuple(sorted((k, repr(v)) for k, v in choice.items()))
        if key not in seen:
            seen.add(key)
            out.append(dict(choice))
    return out[:limit]


def feasible_neighbours(space: Any, choice: Mapping[str, Any], scores: Mapping[str, Mapping[Any, float]],
                        constraints: Sequence[Any], limit: int = POOL) -> list[dict[str, Any]]:
    """The choices one decision away from ``choice`` that meet every constraint, most preferred first."""
    from hwnas.search.budgets import feasible
    from hwnas.search.parts.projection import preference
    from hwnas.space.labels import is_width_label

    out = []
    for dim in space.dims():
        if is_width_label(dim.label):
            continue
        for value in dim.values:
            if value != choice[dim.label]:
                trial = {**choice, dim.label: value}
                if feasible(constraints, trial):
                    out.append(trial)
    out.sort(key=lambda c: -preference(scores, c))
    return out[:limit]

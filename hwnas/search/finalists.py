"""The finalist stage: train a few strong candidates for real and keep the best, instead of trusting one proxy.

A search ranks candidates by a proxy (a supernet's score, a distribution's argmax); on this CPU the best proxies
rank networks of equal latency barely better than chance (docs/BENCHMARKS.md, ranking quality). FBNet itself
trains several architectures sampled from its final distribution rather than trusting the argmax (Wu et al.
2019, Sec. 4.1). So every method ends the same way:

1. **the pool** (:func:`finalist_entries`): the method's top ``count`` distinct candidates (its result's
   ``finalist_pool``: fbnet/tfnas the chosen network, its draws from the final distribution and the argmax;
   spos/random the best of the scored population; hardcore the BCFW result and its nearest feasible
   neighbours), plus, per reference network, the space's member closest to it (:func:`reference_member`: the
   space's op nearest to the reference's most common block, in every layer; the budget filling then scales its
   depth to the budget), so that a search result must beat a scaled reference to be kept;
2. **successive halving** (:func:`successive_halving`; Jamieson & Talwalkar 2016): round ``r`` trains every
   surviving finalist for ``epochs[r]`` epochs with the final recipe and scores it on a held-out split of the
   training data (never the test split); the better half goes on to the next, longer round; the best of the
   last round is the result.

Every training is cached by the caller's ``train`` function, so a killed stage resumes where it stopped.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwnas.space.base import Choice, SearchSpace
from hwnas.space.labels import is_width_label


@dataclass
class Finalist:
    """One network of the stage: where it came from, its choice, and its score per round."""

    name: str  # "search1", "search2", ..., "ref:mobilenetv2_100"
    source: str  # "search" or "reference"
    choice: Choice
    scores: list[dict[str, Any]] = field(default_factory=list)  # {"round", "epochs", "val_top1"}
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the budget filling's record

    @property
    def last_score(self) -> float:
        return self.scores[-1]["val_top1"] if self.scores else float("-inf")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "choice": dict(self.choice), "scores": self.scores,
                **self.extra}


def reference_member(space: SearchSpace, reference: Any) -> Choice:
    """The member of ``space`` closest to ``reference`` (an :class:`~hwnas.arch.spec.ArchSpec`): every searchable
    layer takes the space's op nearest (kernel, expansion, squeeze-excite, groups) to the reference's most common
    block, at the largest width; depth is left to the budget filling, which scales it to the budget."""
    blocks = [b for stage in reference.stages for b in stage for _ in range(b.repeats) if b.type != "ds"]
    if not blocks:
        raise ValueError("the reference has no blocks to match")
    kernel, exp, se, groups = Counter((b.kernel, b.exp, b.se > 0, b.groups) for b in blocks).most_common(1)[0][0]
    choice = dict(space.heaviest())
    for slot in space.slots():
        best, best_distance = None, math.inf
        for value in slot.candidates:
            if value == "skip":
                continue
            block = space.block_for(slot, {**choice, slot.op_label: value})
            distance = (abs(block.kernel - kernel) / 2 + abs(math.log(max(block.exp, 1e-3) / max(exp, 1e-3)))
                        + abs((block.se > 0) - se) + abs(block.groups - groups))
            if distance < best_distance:
                best, best_distance = value, distance
        if best is not None:
            choice[slot.op_label] = best
    return choice


def reference_scores(space: SearchSpace, member: Mapping[str, Any]) -> dict[str, dict[Any, float]]:
    """The preference that scales a reference member the way references are scaled: keep its op, drop layers
    (skip) before changing any op, so that the filling changes its depth first."""
    scores: dict[str, dict[Any, float]] = {}
    for dim in space.dims():
        if is_width_label(dim.label):
            continue
        scores[dim.label] = {v: 0.0 if v == member[dim.label] else -1.0 if v == "skip" else -3.0
                             for v in dim.values}
    return scores


def finalist_entries(space: SearchSpace, pool: Sequence[Mapping[str, Any]], count: int,
                     references: Mapping[str, Any] = {}) -> list[Finalist]:
    """The stage's entries: the first ``count`` of the method's ``pool`` (distinct), then one member per
    reference (``name -> ArchSpec``), each once (a reference member equal to a search candidate is dropped)."""
    if count < 1:
        raise ValueError(f"the finalist count must be >= 1, got {count}")
    entries, seen = [], set()
    for choice in pool:
        key = _key(choice)
        if key not in seen and len(entries) < count:
            seen.add(key)
            entries.append(Finalist(f"search{len(entries) + 1}", "search", dict(choice)))
    for name, spec in references.items():
        member = reference_member(space, spec)
        if _key(member) not in seen:
            seen.add(_key(member))
            entries.append(Finalist(f"ref:{name}", "reference", member))
    return entries


def filled_finalists(entries: Sequence[Finalist], fill: Callable[[Finalist], Mapping[str, Any]], cache: Path,
                     budget_ms: float, announce: Callable[[str], None] = print) -> list[Finalist]:
    """Every entry moved into its budget band by ``fill(entry)`` (a :meth:`hwnas.search.filling.Filled.to_json`
    record), the records cached by entry name in the JSON file ``cache`` so that a killed stage measures nothing
    twice; a cached record is redone when its entry's starting choice or the budget changed. Entries that end up
    as the same network are kept once (the first), each with its record as ``extra["fill"]``."""
    from hwnas.fileio import write_json_atomic

    done = json.loads(cache.read_text()) if cache.is_file() else {}
    kept, seen = [], set()
    for entry in entries:
        record = done.get(entry.name)
        if record is None or record.get("start") != dict(entry.choice) or record.get("budget_ms") != budget_ms:
            record = done[entry.name] = {"start": dict(entry.choice), **fill(entry)}
            write_json_atomic(cache, done)
        announce(f"[finalists] {entry.name}: {record['measured_ms']:.3f} ms measured, "
                 f"{record['fraction']:.0%} of the budget" + ("" if record["in_band"] else f" ({record['reason']})"))
        key = json.dumps(record["choice"], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        kept.append(Finalist(entry.name, entry.source, dict(record["choice"]),
                             extra={"fill": {k: v for k, v in record.items() if k != "choice"}}))
    return kept


def _key(choice: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in choice.items()))


def check_rounds(epochs: Sequence[float]) -> None:
    if not epochs or any(e <= 0 for e in epochs):
        raise ValueError(f"finalist epochs must be a non-empty list of positive numbers, got {list(epochs)}")


def successive_halving(entries: Sequence[Finalist], train: Callable[[Finalist, int, float], float],
                       epochs: Sequence[float], keep: float = 0.5,
                       announce: Callable[[str], None] = print) -> Finalist:
    """Rounds of the module docstring; returns the winner. ``train(finalist, round, epochs)`` trains it from
    scratch for that round and returns its held-out top-1 (cached by the caller); every score is appended to
    the finalist's ``scores``. ``keep``: the fraction that goes on to the next round (at least one)."""
    check_rounds(epochs)
    if not entries:
        raise ValueError("the finalist stage needs at least one network")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    alive = list(entries)
    for r, e in enumerate(epochs):
        for finalist in alive:
            top1 = float(train(finalist, r, e))
            finalist.scores = [s for s in finalist.scores if s["round"] != r]  # a rerun replaces, never doubles
            finalist.scores.append({"round": r, "epochs": e, "val_top1": top1})
        alive.sort(key=lambda f: -f.last_score)
        announce(f"[finalists] round {r + 1}/{len(epochs)} ({e:g} epochs): "
                 + ", ".join(f"{f.name} {f.last_score:.2f}%" for f in alive))
        if r < len(epochs) - 1:
            alive = alive[:max(1, math.ceil(len(alive) * keep))]
    return alive[0]

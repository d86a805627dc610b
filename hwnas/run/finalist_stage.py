"""The ``finalists`` stage of ``hwnas run``: the pool of candidates, each moved into its budget band measured, then
trained in successive-halving rounds; the best is what the ``train`` stage trains.

The parts are :mod:`hwnas.search.finalists` (pool, reference members, successive halving) and
:mod:`hwnas.search.filling` (into ``[0.9 B, 0.97 B]`` measured). Here they meet the run's files:

* ``OUT/finalists/fill.json``: every finalist's filling, measurements included (cached: a rerun does not time
  the networks again);
* ``OUT/finalists/NAME_rR_DIGEST/``: the training of finalist NAME in round R (``train_arch``, resumable), and
  ``score.json`` beside its checkpoints once it finished;
* ``OUT/finalists/result.json``: the search's result with the winner as its architecture, every finalist with
  its scores under ``finalists`` and the search's own choice under ``searched_arch``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hwnas.fileio import write_json_atomic
from hwnas.run.stages import digest
from hwnas.search.filling import Filled, fill_measured, other_budgets_fit
from hwnas.search.finalists import Finalist, finalist_entries, reference_scores, successive_halving
from hwnas.search.preference import result_preference


def fill_entries(entries: list[Finalist], space, predict, measure, budget_ms: float, scores, fits, rounds: int,
                 cache: Path, announce: Callable[[str], None]) -> list[Finalist]:
    """Each entry moved into its band (cached in ``cache``); entries that end up equal are kept once."""
    done = json.loads(cache.read_text()) if cache.is_file() else {}
    out, seen = [], set()
    for entry in entries:
        record = done.get(entry.name)
        if record is None or record.get("start") != entry.choice or record.get("budget_ms") != budget_ms:
            prefer = scores if entry.source == "search" else reference_scores(space, entry.choice)
            filled: Filled = fill_measured(space, entry.choice, predict, measure, budget_ms, prefer, fits, rounds)
            record = {"start": dict(entry.choice), **filled.to_json()}
            done[entry.name] = record
            write_json_atomic(cache, done)
        announce(f"[finalists] {entry.name}: {record['measured_ms']:.3f} ms measured, "
                 f"{record['fraction']:.0%} of the budget" + ("" if record["in_band"] else f" ({record['reason']})"))
        key = json.dumps(record["choice"], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        out.append(Finalist(entry.name, entry.source, dict(record["choice"]),
                            extra={"fill": {k: v for k, v in record.items() if k != "choice"}}))
    return out


def make_trainer(cfg, out: Path, space, progress: bool) -> Callable[[Finalist, int, float], float]:
    """``train(finalist, round, epochs)``: the final recipe for ``epochs`` epochs on ``finalists.limit`` images,
    scored on the held-out tenth of the training split; cached in ``score.json``."""
    from hwnas.workflows.train import train_arch

    def train(finalist: Finalist, r: int, epochs: float) -> float:
        tr = cfg.train
        # the folder names everything the score depends on: a changed budget, recipe or seed trains anew
        recipe = {"choice": finalist.choice, "epochs": epochs, "limit": cfg.finalists.limit, "seed": cfg.seed,
                  "train": [tr.batch_size, tr.lr, tr.augment], "dataset": cfg.dataset}
        where = out / f"{finalist.name.replace(':', '_')}_r{r}_{digest(recipe)[:8]}"
        saved = where / "score.json"
        if saved.is_file():
            return float(json.loads(saved.read_text())["val_top1"])
        metrics = train_arch(space.to_spec(finalist.choice), cfg.dataset, where, epochs=int(epochs),
                             batch_size=tr.batch_size, lr=tr.lr, seed=cfg.seed, device=cfg.device,
                             data_dir=cfg.data_dir, download=cfg.download, limit=cfg.finalists.limit,
                             val_fraction=0.1, resume=True, adapt=False, progress=progress, augment=tr.augment,
                             tensorboard=False)
        write_json_atomic(saved, {"val_top1": metrics["val_top1"], "epochs": epochs, "round": r})
        return float(metrics["val_top1"])

    return train


def stage_finalists(cfg, out: Path, space, lut_path: str, budgets, searched: Mapping[str, Any],
                    measure: Callable[[Mapping[str, Any]], Any], progress: bool,
                    announce: Callable[[str], None] = print) -> dict[str, Any]:
    """The stage of the module docstring; returns the winner's arch, where its result is, every finalist."""
    from hwnas import zoo
    from hwnas.arch import encode
    from hwnas.cost.latency.table import LatencyTable
    from hwnas.search.result import SearchResult, describe_choice

    fc = cfg.finalists
    where = out / "finalists"
    result = SearchResult.load(searched["result"])
    pool = result.get("finalist_pool") or [result.choice]
    refs = {name: zoo.get(name).spec for name in fc.references}
    entries = finalist_entries(space, pool, max(fc.count, 1), refs if fc.count else {})
    table = LatencyTable.load(lut_path)
    limit = budgets.max_latency_ms
    if fc.fill and limit is not None:
        entries = fill_entries(entries, space, lambda choice: float(table.predict(space.to_spec(choice))), measure,
                               limit, result_preference(result), other_budgets_fit(budgets, space, table),
                               fc.fill_rounds, where / "fill.json", announce)
    if len(entries) > 1:
        winner = successive_halving(entries, make_trainer(cfg, where, space, progress), fc.epochs, announce=announce)
    else:
        winner = entries[0]
    described = describe_choice(space, winner.choice, table)
    data = {**result.to_json(), **described, "searched_arch": result.arch, "winner": winner.name,
            "finalists": [f.to_json() for f in entries]}
    write_json_atomic(where / "result.json", data)
    fill = winner.extra.get("fill", {})
    return {"arch": encode(space.to_spec(winner.choice)), "result": str(where / "result.json"),
            "winner": winner.name, "searched_arch": result.arch,
            "predicted_latency_ms": described["predicted_latency_ms"], "measured_ms": fill.get("measured_ms"),
            "fraction_of_budget": fill.get("fraction"), "in_band": fill.get("in_band"),
            "reason": fill.get("reason"),
            "finalists": [{"name": f.name, "source": f.source, "arch": encode(space.to_spec(f.choice)),
                           "scores": f.scores, "measured_ms": f.extra.get("fill", {}).get("measured_ms"),
                           "fraction_of_budget": f.extra.get("fill", {}).get("fraction")} for f in entries]}

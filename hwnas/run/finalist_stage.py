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
from hwnas.search.filling import fill_measured, other_budgets_fit
from hwnas.search.finalists import (Finalist, filled_finalists, finalist_entries, reference_scores,
                                   successive_halving)
from hwnas.search.preference import result_preference


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
        predict, scores = (lambda choice: float(table.predict(space.to_spec(choice)))), result_preference(result)
        fits = other_budgets_fit(budgets, space, table)

        def fill(entry: Finalist) -> dict[str, Any]:  # a reference member is grown with its own preference
            prefer = scores if entry.source == "search" else reference_scores(space, entry.choice)
            return fill_measured(space, entry.choice, predict, measure, limit, prefer, fits, fc.fill_rounds).to_json()

        entries = filled_finalists(entries, fill, where / "fill.json", limit, announce)
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

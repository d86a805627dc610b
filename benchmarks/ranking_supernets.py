"""The supernets of ``benchmarks/supernet_ranking.py``: one spos supernet per configuration trained for a fixed
wall-clock budget (its step count planned from a probe of the step time), its learning curve by tenths, and the
band's architectures scored on it, cached per configuration and budget."""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ranking_report import read_json  # beside this file
from ranking_settings import CONFIGS, CURVE_POINTS, DATASET, MINIMAL_SEARCH, SPACE, the_space, write_json


class EpochClock(logging.Handler):
    """When each supernet epoch ended, in wall-clock and in this process's CPU time: the one-shot phase logs one
    line per epoch (``oneshot.train_supernet``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("supernet epoch"):
            self.wall.append(time.perf_counter())
            self.cpu.append(time.process_time())


def run_search(where: Path, overrides: Mapping[str, Any], lut: Path, budget: float, args: argparse.Namespace,
               resume: bool) -> tuple[Any, dict[str, Any]]:
    """``hwnas.search.search("spos", ...)`` into ``where``: the result, and the seconds (wall-clock and CPU) from
    the call to each epoch's end and of the whole call."""
    from hwnas.search import Budgets, search

    logger, clock = logging.getLogger("hwnas.search.parts.oneshot"), EpochClock()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(clock)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = search("spos", SPACE[0], DATASET, out=where, lut=lut, budgets=Budgets(max_latency_ms=budget),
                        overrides=dict(overrides), width_mult=SPACE[4], seed=args.seed, limit=args.supernet_limit,
                        progress=False, tensorboard=False, resume=resume)
    finally:
        logger.removeHandler(clock)
        logger.setLevel(level)
    return result, {"epoch_wall_s": [t - wall for t in clock.wall], "epoch_cpu_s": [t - cpu for t in clock.cpu],
                    "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def probe_step_s(folder: Path, config: Mapping[str, Any], lut: Path, budget: float,
                 args: argparse.Namespace) -> float:
    """CPU seconds per supernet step of ``config`` (one thread: the wall-clock it takes on an idle core, whatever
    else runs on the shared machine): 3 short epochs, timed from the first epoch's end to the third's (the first
    pays for loading and warming up). Cached in ``probe.json``."""
    import shutil

    saved = read_json(folder / "probe.json")
    if saved is not None:
        return saved["step_s"]
    steps = args.probe_steps
    overrides = {**config, **MINIMAL_SEARCH, "epochs": 3, "steps_per_epoch": steps}
    _, times = run_search(folder / "probe", overrides, lut, budget, args, resume=False)
    ends = times["epoch_cpu_s"]
    step_s = (ends[2] - ends[0]) / (2 * steps) if len(ends) >= 3 else times["cpu_s"] / (3 * steps)
    wall = times["epoch_wall_s"]
    write_json(folder / "probe.json", {"step_s": step_s, "probe_steps": steps, **times,
                                       "wall_step_s": (wall[2] - wall[0]) / (2 * steps) if len(wall) >= 3 else None})
    shutil.rmtree(folder / "probe", ignore_errors=True)  # its weights are of no use
    return step_s


def plan_steps(step_s: float, minutes: float, batches_per_epoch: int) -> dict[str, int]:
    """Steps that fill ``minutes`` at ``step_s``, as ``CURVE_POINTS`` x k epochs of equal length (at most one
    pass over the weight split each), so that the epoch losses give the learning curve by tenths."""
    steps = max(int(minutes * 60 / step_s), CURVE_POINTS)
    epochs = CURVE_POINTS * math.ceil(steps / CURVE_POINTS / batches_per_epoch)
    per_epoch = max(steps // epochs, 1)
    return {"steps": epochs * per_epoch, "epochs": epochs, "steps_per_epoch": per_epoch}


def curve_by_tenths(history: Sequence[Mapping[str, Any]]) -> list[float]:
    """Mean training loss per tenth of the steps, from the per-epoch losses (epochs of equal length)."""
    losses = [h["loss"] for h in history]
    per = max(len(losses) // CURVE_POINTS, 1)
    return [sum(losses[i:i + per]) / len(losses[i:i + per]) for i in range(0, len(losses), per)]


def score_archs(directory: Path, archs: Sequence[Mapping[str, Any]],
                args: argparse.Namespace) -> dict[str, float]:
    """Each architecture's arch-split top-1 on the trained supernet after BN recalibration (the search's score)."""
    import torch

    from hwnas.search.context import search_loaders
    from hwnas.search.parts.engine import LimitedSource, batches, score_choice
    from hwnas.search.parts.oneshot import trained_supernet

    supernet = trained_supernet(directory, the_space(), torch.device("cpu")).eval()  # built as it was trained
    loaders = search_loaders(DATASET, 128, seed=args.seed, limit=args.supernet_limit, progress=False)
    calibration = batches(loaders.train, args.recal_batches)
    val = LimitedSource(loaders.val, args.score_batches)
    return {a["id"]: score_choice(supernet, a["choice"], calibration, val, torch.device("cpu")) for a in archs}


def supernet_folder(out: Path, name: str, minutes: float) -> Path:
    return out / "supernets" / f"{name}_{minutes:g}m"


def train_and_score(out: Path, name: str, minutes: float, selection: Mapping[str, Any],
                    args: argparse.Namespace) -> dict[str, Any]:
    """Train configuration ``name`` for ``minutes`` (resuming a killed run), score the architectures; cached."""
    from hwnas.search.context import search_loaders
    from hwnas.search.result import SearchResult

    folder = supernet_folder(out, name, minutes)
    done = read_json(folder / "scores.json")
    if done is not None:
        return done
    config, lut, budget = CONFIGS[name], out / f"lut_{SPACE[0]}.json", selection["budget_ms"]
    plan = read_json(folder / "plan.json")
    if plan is None:  # fixed once: a resumed run trains the same steps with the same schedule
        step_s = probe_step_s(folder, config, lut, budget, args)
        per_epoch = len(search_loaders(DATASET, 128, seed=args.seed, limit=args.supernet_limit,
                                       progress=False).train)
        plan = {"step_s": step_s, "minutes": minutes, **plan_steps(step_s, minutes, per_epoch)}
        write_json(folder / "plan.json", plan)
    where = folder / "search"
    overrides = {**config, **MINIMAL_SEARCH, "epochs": plan["epochs"], "steps_per_epoch": plan["steps_per_epoch"]}
    timing = read_json(folder / "timing.json")
    if timing is None or not (where / "result.json").is_file():
        resumed = (where / "search_state.pt").is_file()
        result, times = run_search(where, overrides, lut, budget, args, resume=True)
        timing = {"train_wall_s": (times["epoch_wall_s"] or [None])[-1],
                  "train_cpu_s": (times["epoch_cpu_s"] or [None])[-1], "search_wall_s": times["wall_s"],
                  "resumed": resumed}
        write_json(folder / "timing.json", timing)
    else:
        result = SearchResult.load(where / "result.json")
    started = time.perf_counter()
    scores = score_archs(where, selection["archs"], args)
    row = {"config": name, "overrides": config, "minutes": minutes, **plan, **timing,
           "curve": curve_by_tenths(result["history"]["supernet"]), "scores": scores,
           "score_s": time.perf_counter() - started, "recal_batches": args.recal_batches,
           "score_batches": args.score_batches, "limit": args.supernet_limit}
    write_json(folder / "scores.json", row)
    return row

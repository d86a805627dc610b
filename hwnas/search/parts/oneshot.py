"""One-shot search in two phases, shared by SPOS and the random baseline (Guo et al. 2019, Sec. 3).

1. **Supernet training**: every step trains one path drawn by a path sampler (:mod:`hwnas.search.parts.path_sampling`:
   uniform, with channel warm-up, optionally only inside the budgets) on the weight split, or, with ``sandwich``,
   the largest, the smallest and sampled paths with in-place distillation (:mod:`hwnas.search.parts.sandwich`).
   The supernet's weights are independent per candidate or entangled (``sharing``, :mod:`hwnas.supernet`). The trained
   supernet is saved as ``supernet.pt`` plus ``supernet.json`` (what it was trained on), so that a new budget
   can be searched later without training again (``hwnas search --from-supernet DIR``).
2. **Candidate search**: an ask/tell strategy (:mod:`hwnas.search.parts.evolution`) proposes feasible candidates; each
   is scored by its validation top-1 on the arch split after recalibrating its BN statistics on weight-split
   batches. The best scored candidate is the result.

Both phases checkpoint (per epoch, per generation) into ``search_state.pt``; ``resume`` continues either.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from hwnas.distributed import World
from hwnas.fileio import write_json_atomic
from hwnas.search.context import SearchContext
from hwnas.search.parts.engine import (
    LimitedSource, SearchState, WeightTrainer, batches, build_supernet, run_epoch, score_choice,
)
from hwnas.search.parts.evolution import EvolutionConfig, rng_state, set_rng_state
from hwnas.search.parts.path_sampling import ChannelWarmup, make_path_sampler
from hwnas.search.parts.sandwich import sandwich_loss, sandwich_paths
from hwnas.search.preference import POOL, distinct, marginal_scores, scores_to_json
from hwnas.search.result import SearchResult, build_result
from hwnas.supernet import Supernet
from hwnas.train import load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)

SUPERNET_WEIGHTS = "supernet.pt"
SUPERNET_INFO = "supernet.json"


@dataclass
class OneShotConfig:
    """Supernet training and candidate scoring (defaults sized for a CPU proxy search; SPOS trains 120 ImageNet
    epochs)."""

    epochs: int = 10  # supernet training epochs on the weight split
    lr: float = 0.05  # peak SGD learning rate (cosine to 0); SPOS: 0.5 at batch 1024, i.e. ~0.06 at 128
    weight_decay: float = 4e-5
    steps_per_epoch: int | None = None  # cap on steps per epoch (None: the whole weight split)
    warmup_fraction: float = 0.25  # channel warm-up: first quarter full widths, next quarter opens them all
    constrained_sampling: bool = False  # train only paths that meet the budgets (same as path_sampler=constrained)
    # uniform | constrained (rejection, inside the budgets) | strolling (even walk) | skip_rate (even skip share)
    path_sampler: str = "uniform"
    # Entangled weights and zero-initialised residual branches: uniform single paths of the FBNet space learn only
    # with both (docs/BENCHMARKS.md, "Supernets that learn"); independent weights are SPOS's own supernet.
    sharing: str = "entangled"  # supernet weights: independent per candidate, or entangled (Once-for-All)
    kernel_transform: bool = False  # entangled only: Once-for-All kernel transformation matrices
    zero_init_residual: bool = True  # every residual block starts as the identity (BigNAS initialisation)
    sandwich: bool = False  # each step: largest + smallest + sandwich_paths sampled paths (BigNAS sandwich rule)
    sandwich_paths: int = 2  # sampled paths per sandwich step
    distill: bool = False  # sandwich only: the largest path's soft labels teach the others (in-place distillation)
    lr_warmup_fraction: float = 0.0  # share of all steps with a linear learning-rate warm-up
    recal_batches: int = 8  # weight-split batches for each candidate's BN recalibration
    score_batches: int | None = None  # arch-split batches each candidate is scored on (None: all)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    random_candidates: int | None = None  # random search: candidates to score (None: evolution's budget)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def channel_warmup(cfg: OneShotConfig) -> ChannelWarmup:
    span = max(int(round(cfg.epochs * cfg.warmup_fraction)), 0)
    return ChannelWarmup(block_epochs=span, open_epochs=max(span, 1))


def train_supernet(ctx: SearchContext, supernet: Supernet, cfg: OneShotConfig, state: SearchState,
                   saved: Mapping[str, Any] | None, step_fn: Callable | None = None,
                   sampler: Any | None = None) -> list[dict[str, Any]]:
    """Phase 1: single-path training (SPOS), or the sandwich rule with in-place distillation (``cfg.sandwich``,
    :mod:`hwnas.search.parts.sandwich`), or ``step_fn(x, y, epoch)`` per step; per-epoch history."""
    if not 0.0 <= cfg.lr_warmup_fraction <= 1.0:
        raise ValueError(f"lr_warmup_fraction must be in [0, 1] (a share of the steps), got {cfg.lr_warmup_fraction}")
    if cfg.distill and not cfg.sandwich:
        raise ValueError("distill (in-place distillation) needs sandwich=true: the largest path of a sandwich step "
                         "is the teacher")
    source = ctx.loaders.train
    steps = min(cfg.steps_per_epoch or len(source), len(source))
    total = cfg.epochs * steps
    trainer = WeightTrainer(supernet, total, lr=cfg.lr, weight_decay=cfg.weight_decay, world=ctx.world,
                            warmup_steps=int(round(cfg.lr_warmup_fraction * total)),
                            channels_last=ctx.use_channels_last)
    sampler = sampler or path_sampler(ctx, cfg)
    rng, start, history = random.Random(ctx.seed), 0, []
    if saved is not None:
        supernet.load_state_dict(saved["supernet"])
        trainer.load_state_dict(saved["trainer"])
        set_rng_state(rng, saved["rng"])
        if saved.get("sampler") is not None and hasattr(sampler, "load_state_dict"):
            sampler.load_state_dict(saved["sampler"])
        start, history = int(saved["epoch"]), list(saved["history"])
    supernet.to(ctx.device).train()
    largest, smallest = ctx.space.heaviest(), ctx.space.lightest()

    def one_step(x: torch.Tensor, y: torch.Tensor, epoch: int) -> float:
        # Paths are drawn before sharding from the same seeded rng: every rank trains the same paths.
        if not cfg.sandwich:
            supernet.set_active(sampler.sample(rng, epoch))
            x, y = ctx.world.shard((x, y))
            return trainer.update(lambda: torch.nn.functional.cross_entropy(supernet(x), y))
        paths = sandwich_paths(largest, smallest, lambda: sampler.sample(rng, epoch), cfg.sandwich_paths)
        x, y = ctx.world.shard((x, y))
        return trainer.update(lambda: sandwich_loss(supernet, x, y, paths, cfg.distill)) / len(paths)

    for epoch in range(start, cfg.epochs):
        step = step_fn or one_step
        loss = run_epoch(source, epoch, lambda x, y: step(x, y, epoch), f"supernet {epoch + 1}/{cfg.epochs}",
                         ctx.show_progress, ctx.device, limit=steps, channels_last=ctx.use_channels_last)
        history.append({"epoch": epoch, "loss": loss, "lr": trainer.lr})
        ctx.log(trainer.step, {"kind": "supernet", "epoch": epoch, "loss": loss})
        log.info("supernet epoch %d/%d: loss %.4f", epoch + 1, cfg.epochs, loss)
        state.save({"phase": "train", "epoch": epoch + 1, "supernet": supernet.state_dict(),
                    "trainer": trainer.state_dict(), "rng": rng_state(rng), "history": history,
                    "sampler": sampler.state_dict() if hasattr(sampler, "state_dict") else None})
    return history


def path_sampler(ctx: SearchContext, cfg: OneShotConfig) -> Any:
    """The training path sampler ``cfg.path_sampler`` names (``constrained_sampling`` is the older spelling of
    ``path_sampler="constrained"``), with channel warm-up, under the search's budgets."""
    kind = "constrained" if cfg.constrained_sampling and cfg.path_sampler == "uniform" else cfg.path_sampler
    return make_path_sampler(kind, ctx.space, ctx.constraints, channel_warmup(cfg))


def save_supernet(ctx: SearchContext, supernet: Supernet, method: str, info: Mapping[str, Any]) -> None:
    """``supernet.pt`` (weights) and ``supernet.json`` (the space, its geometry and digest, how it was trained)."""
    from hwnas.cost.lut_keys import space_digest

    save_checkpoint(ctx.out_dir / SUPERNET_WEIGHTS, supernet.state_dict())
    g = ctx.space.geometry
    write_json_atomic(ctx.out_dir / SUPERNET_INFO, {
        "method": method, "space": ctx.space.name, "input_size": g.input_size, "in_channels": g.in_channels,
        "num_classes": g.num_classes, "width_mult": g.width_mult, "space_digest": space_digest(ctx.space), **info})


def load_supernet(directory: Path, supernet: Supernet, device: torch.device) -> None:
    path = Path(directory) / SUPERNET_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: --from-supernet takes the --out of a finished spos, random or "
                                "hardcore search")
    try:
        supernet.load_state_dict(load_checkpoint(path))
    except RuntimeError as e:
        raise ValueError(f"{path} does not fit space {supernet.space.name!r}: {str(e).splitlines()[0]}") from None
    supernet.to(device)


def trained_supernet(directory: Path, space: Any, device: torch.device) -> Supernet:
    """The supernet saved in ``directory``, built the way it was trained (its ``supernet.json`` says how its
    weights are shared; files from before entangled supernets existed hold independent ones)."""
    import json

    info_path = Path(directory) / SUPERNET_INFO
    config = json.loads(info_path.read_text()).get("config", {}) if info_path.is_file() else {}
    # The initialisation does not matter here: the trained weights replace it.
    supernet = Supernet(space, sharing=config.get("sharing", "independent"),
                        kernel_transform=bool(config.get("kernel_transform", False)))
    load_supernet(directory, supernet, device)
    return supernet


def search_candidates(ctx: SearchContext, supernet: Supernet, strategy: Any, cfg: OneShotConfig,
                      state: SearchState, saved: Mapping[str, Any] | None, what: str,
                      keep: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Phase 2: ask/tell ``strategy`` until done, scoring candidates on the supernet; checkpoints each round
    (with ``keep``, e.g. the training history, in every checkpoint). Returns per round the share of its
    candidates taking each value of each decision (:func:`value_shares`)."""
    from tqdm import tqdm

    rounds: list[dict[str, Any]] = []  # per round (generation), how often each value was proposed
    if saved is not None and saved.get("phase") == "search":
        strategy.load_state_dict(saved["strategy"])
        rounds = list(saved.get("rounds") or [])
    calibration = batches(ctx.loaders.train, cfg.recal_batches)
    val = LimitedSource(ctx.loaders.val, cfg.score_batches)
    with tqdm(desc=what, disable=not ctx.show_progress, dynamic_ncols=True,
              initial=len(strategy.scored)) as bar:
        while not strategy.done:
            candidates = strategy.ask()
            if not candidates:
                break
            scores = score_all(supernet, candidates, calibration, val, ctx.device, bar, ctx.world,
                               ctx.use_channels_last)
            strategy.tell(scores)
            rounds.append(value_shares(candidates, len(rounds)))
            best = strategy.best(1)[0][1]
            bar.set_postfix(best=f"{best:.2f}%", refresh=False)
            ctx.log(len(strategy.scored), {"kind": "search", "scored": len(strategy.scored), "best_top1": best})
            state.save({"phase": "search", "strategy": strategy.state_dict(), "rounds": rounds, **(keep or {})})
    return rounds


def value_shares(candidates: list, index: int) -> dict[str, Any]:
    """``{"round": index, "shares": {label: {value: fraction of the candidates}}}``: what a round (an evolution
    generation) proposed, so a report can show the population converging as a heatmap."""
    shares: dict[str, dict[str, float]] = {}
    for choice in candidates:
        for label, value in choice.items():
            row = shares.setdefault(label, {})
            row[str(value)] = row.get(str(value), 0.0) + 1.0 / len(candidates)
    return {"round": index, "shares": shares}


def score_all(supernet: Supernet, candidates: list, calibration: list, val: Any, device: torch.device,
              bar: Any, world: World, channels_last: bool | None = None) -> list[float]:
    """Every candidate's score; under torchrun rank ``r`` scores candidates ``r, r + N, ...`` and the scores are
    gathered, so all ranks tell the strategy the same list (scoring is a whole evaluation per candidate, no
    collective inside: the ranks' supernets only differ in the BN statistics scoring itself recalibrates)."""
    mine = {}
    for i in range(world.rank, len(candidates), world.size):
        mine[i] = score_choice(supernet, candidates[i], calibration, val, device, channels_last)
        bar.update(world.size)
    merged: dict[int, float] = {}
    for part in world.all_gather_objects(mine):
        merged.update(part)
    return [merged[i] for i in range(len(candidates))]


def run_oneshot(ctx: SearchContext, method: str, make_strategy: Callable) -> SearchResult:
    """Train the supernet (or load ``ctx.from_supernet``'s), search it with ``make_strategy(feasible, seed)``
    under ``ctx.config`` (a :class:`OneShotConfig`), return the result."""
    from hwnas.search.budgets import feasible

    cfg, from_supernet = ctx.config, ctx.from_supernet
    supernet = build_supernet(ctx.space, cfg)
    fingerprint = {"space": ctx.space.name, "geometry": asdict(ctx.space.geometry), "config": cfg.to_dict(),
                   "budgets": ctx.budgets.to_dict(), "seed": ctx.seed, "from_supernet": str(from_supernet or "")}
    state = SearchState(ctx.out_dir, method, fingerprint)
    saved = state.load(ctx.resume)
    history: dict[str, Any] = {}
    if from_supernet is not None:
        supernet = trained_supernet(from_supernet, ctx.space, ctx.device)
    elif saved is not None and saved.get("phase") == "search":
        load_supernet(ctx.out_dir, supernet, ctx.device)
        history["supernet"] = saved.get("train_history")
    else:
        history["supernet"] = train_supernet(ctx, supernet, cfg, state, saved)
        save_supernet(ctx, supernet, method, {"config": cfg.to_dict(), "seed": ctx.seed})
        saved = None
    strategy = make_strategy(lambda c: feasible(ctx.constraints, c), ctx.seed)
    history["rounds"] = search_candidates(ctx, supernet, strategy, cfg, state, saved, f"{method} search",
                                          keep={"train_history": history.get("supernet")})
    ranked = strategy.best(len(strategy.scored))
    if not ranked:
        raise ValueError("the search scored no candidate: the budgets leave no architecture to evaluate")
    best, top1 = ranked[0]
    history["candidates"] = [_candidate_row(ctx, c, s) for c, s in ranked]
    return build_result(ctx, method, best, config=cfg.to_dict(), history=history,
                        extra={"supernet_val_top1": top1, "candidates_scored": len(ranked),
                               "from_supernet": str(from_supernet) if from_supernet else None,
                               # for the finalist stage and the budget filling (hwnas.search.preference)
                               "preference": scores_to_json(marginal_scores(ranked)),
                               "finalist_pool": distinct([c for c, _ in ranked[:POOL]])})


def _candidate_row(ctx: SearchContext, choice: Mapping[str, Any], score: float) -> dict[str, Any]:
    from hwnas.search.budgets import costs_of

    return {"choice": dict(choice), "val_top1": score, **costs_of(ctx.constraints, choice),
            "predicted_latency_ms": None if ctx.latency is None else ctx.latency.predict(ctx.space.to_spec(choice))}

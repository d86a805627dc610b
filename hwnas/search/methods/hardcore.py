"""HardCoRe-NAS: a hard latency constraint held at every step of the search (Nayman et al. 2021).

1. **Heaviest-network pretraining**: the largest path of the supernet is trained alone for ``heaviest_epochs``
   (HardCoRe's ``--heaviest_network``); a frozen copy of it is the teacher from then on.
2. **One-shot training with multipath sampling and in-place distillation**: every sample of a batch draws its
   own uniform op per block and depth per stage (HardCoRe's "full" multipath mode, here run as hard per-sample
   paths, :meth:`~hwnas.supernet.Supernet.forward_per_sample`), and the loss is
   ``CE + kd_gamma * KL(teacher || student)`` at temperature ``kd_temperature`` (``--real_KD``). HardCoRe also
   matches stage features (``ikd_dividor``); hwnas distils logits only.
3. **Search** by Block-Coordinate Frank-Wolfe (:mod:`hwnas.search.parts.bcfw`) over op distributions ``alpha`` and
   depth distributions ``beta``, every iterate inside every budget. Gradients are those of the arch-split
   cross-entropy with respect to per-sample hard Gumbel-softmax masks (temperature 1), averaged over the batch,
   weights frozen and in eval mode; ``grad_mode="all"`` evaluates every path so every candidate gets a gradient
   (HardCoRe's default), ``"sampled"`` only the sampled ones (its ``--hard_backprop``, cheaper).
4. **Projection** to a vertex (``sparsify``), the per-block argmax, and the greedy repair of
   :mod:`hwnas.search.parts.projection` if rounding broke a budget.
5. **Fine-tuning** (optional, :func:`finetune`): the chosen child with the supernet's weights, trained with KD
   from the pretrained heaviest path of phase 1.

The trained supernet is saved so that other budgets can be searched in seconds (``--from-supernet``).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from hwnas.search.budgets import check_feasible
from hwnas.search.context import SearchContext
from hwnas.search.method import SearchMethod
from hwnas.search.parts.arch_params import gumbel_softmax
from hwnas.search.parts.bcfw import BCFWConfig, LinearBudgets, bcfw, feasible_start, sparsify
from hwnas.search.parts.engine import SearchState, WeightTrainer, build_supernet, cycle_batches, run_epoch
from hwnas.search.parts.oneshot import save_supernet, trained_supernet
from hwnas.search.parts.projection import project
from hwnas.search.parts.proxy import described, proxy_top1
from hwnas.search.registry import register
from hwnas.search.preference import distinct, feasible_neighbours, scores_to_json
from hwnas.search.result import SearchResult, build_result
from hwnas.space.base import Choice, SearchSpace
from hwnas.space.labels import is_depth_label, is_op_label, is_width_label
from hwnas.supernet import Supernet
from hwnas.train.distill import kd_loss
from hwnas.train.checkpoint import load_checkpoint, save_checkpoint
from hwnas.train.layout import model_to_layout, to_layout

log = logging.getLogger(__name__)
GRAD_MODES = ("all", "sampled")
TEACHER_WEIGHTS = "teacher.pt"  # the heaviest path after its pretraining (phase 1), beside supernet.pt


@dataclass
class HardCoReConfig:
    """HardCoRe-NAS settings (its README's, epochs and steps scaled down for a CPU proxy search)."""

    heaviest_epochs: int = 2  # HardCoRe: 300 ImageNet epochs
    epochs: int = 8  # multipath one-shot training (HardCoRe: 100)
    lr: float = 0.05  # SGD, cosine (HardCoRe: 0.128 at batch 256 for the heaviest, 0.0128 at 200 after)
    weight_decay: float = 1e-5
    kd_gamma: float = 1.0  # weight of the distillation term (gamma_knowledge)
    kd_temperature: float = 1.0
    steps_per_epoch: int | None = None
    sharing: str = "entangled"  # supernet weights: independent per candidate, or entangled (Once-for-All)
    kernel_transform: bool = False  # entangled only: Once-for-All kernel transformation matrices
    zero_init_residual: bool = False  # every residual block starts as the identity (BigNAS initialisation)
    grad_mode: str = "all"
    grad_batches: int = 1  # arch-split batches per BCFW gradient (aggregate_grads_steps)
    grad_batch: int | None = 16  # images of each such batch used (HardCoRe: batch 16); None: the whole batch
    finetune_epochs: int = 0  # then fine-tune the chosen child with KD from the heaviest path (0: skip)
    bcfw: BCFWConfig = field(default_factory=BCFWConfig)

    def __post_init__(self) -> None:
        if self.grad_mode not in GRAD_MODES:
            raise ValueError(f"hardcore grad_mode must be one of {GRAD_MODES}, got {self.grad_mode!r}")
        if isinstance(self.bcfw, dict):
            self.bcfw = BCFWConfig(**self.bcfw)


def uniform_masks(space: SearchSpace, batch: int, generator: torch.Generator,
                  device: torch.device) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """One-hot per-sample masks drawn uniformly for every op and depth decision (multipath sampling)."""
    ops, depth = {}, {}
    for dim in space.dims():
        if is_width_label(dim.label):
            continue
        index = torch.randint(len(dim.values), (batch,), generator=generator)
        mask = F.one_hot(index, len(dim.values)).float().to(device)
        (ops if is_op_label(dim.label) else depth)[dim.label] = mask
    return ops, depth or None


def train_oneshot(ctx: SearchContext, supernet: Supernet, cfg: HardCoReConfig, state: SearchState,
                  saved: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Phases 1 and 2 (see the module docstring); per-epoch history."""
    source = ctx.loaders.train
    steps = min(cfg.steps_per_epoch or len(source), len(source))
    total = cfg.heaviest_epochs + cfg.epochs
    trainer = WeightTrainer(supernet, total * steps, lr=cfg.lr, weight_decay=cfg.weight_decay, world=ctx.world,
                            channels_last=ctx.use_channels_last)
    generator, start, history = ctx.generator(3), 0, []
    heaviest = ctx.space.heaviest()
    if saved is not None and saved.get("phase") == "train":
        supernet.load_state_dict(saved["supernet"])
        trainer.load_state_dict(saved["trainer"])
        generator.set_state(saved["generator"])
        start, history = int(saved["epoch"]), list(saved["history"])
    supernet.to(ctx.device).train()
    teacher = None

    def make_teacher() -> torch.nn.Module:  # in the layout of the batches it sees (hwnas.train.layout)
        return model_to_layout(freeze(supernet.extract(heaviest)), ctx.use_channels_last)

    if saved is not None and saved.get("teacher") is not None:  # the heaviest path as it was after pretraining
        teacher = make_teacher()
        teacher.load_state_dict(saved["teacher"])

    world = ctx.world

    def heavy_step(x: torch.Tensor, y: torch.Tensor) -> float:
        supernet.set_active(heaviest)
        x, y = world.shard((x, y))
        return trainer.update(lambda: F.cross_entropy(supernet(x), y))

    def multipath_step(x: torch.Tensor, y: torch.Tensor) -> float:
        ops, depth = uniform_masks(ctx.space, x.shape[0], generator, ctx.device)  # per sample, global batch
        x, y, ops, depth = world.shard((x, y, ops, depth))
        with torch.no_grad():
            soft = teacher(x)
        return trainer.update(lambda: kd_loss(supernet.forward_per_sample(x, ops, depth, hard=True), soft, y,
                                              alpha=cfg.kd_gamma / (1 + cfg.kd_gamma),
                                              temperature=cfg.kd_temperature) * (1 + cfg.kd_gamma))

    for epoch in range(start, total):
        heavy = epoch < cfg.heaviest_epochs
        if not heavy and teacher is None:
            teacher = make_teacher()
        what = "heaviest" if heavy else "multipath"
        loss = run_epoch(source, epoch, heavy_step if heavy else multipath_step,
                         f"hardcore {what} {epoch + 1}/{total}", ctx.show_progress, ctx.device, limit=steps,
                         channels_last=ctx.use_channels_last)
        history.append({"epoch": epoch, "phase": what, "loss": loss, "lr": trainer.lr})
        ctx.log(trainer.step, {"kind": "hardcore_" + what, "epoch": epoch, "loss": loss})
        state.save({"phase": "train", "epoch": epoch + 1, "supernet": supernet.state_dict(),
                    "trainer": trainer.state_dict(), "generator": generator.get_state(), "history": history,
                    "teacher": None if teacher is None else teacher.state_dict()})
    if teacher is not None:  # the pretrained heaviest path: the fine-tuning's teacher (HardCoRe's IKD model)
        save_checkpoint(ctx.out_dir / TEACHER_WEIGHTS, teacher.state_dict())
    return history


def freeze(model: torch.nn.Module) -> torch.nn.Module:
    model = copy.deepcopy(model).eval()
    model.requires_grad_(False)
    return model


def make_grad_fn(ctx: SearchContext, supernet: Supernet, cfg: HardCoReConfig, generator: torch.Generator):
    """``grad(alpha, beta)``: batch-mean gradient of the arch-split CE w.r.t. per-sample hard Gumbel masks.

    Under torchrun each rank backpropagates its shard's CE summed and divided by the global batch size, so its
    mask rows get exactly their global-mean gradients; the per-rank sums over rows are then summed over the ranks.
    """
    arch_batches = cycle_batches(ctx.loaders.val)
    world = ctx.world
    model_to_layout(supernet, ctx.use_channels_last)  # one loaded by --from-supernet is still NCHW

    def grad(alpha: dict[str, np.ndarray], beta: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        total: dict[str, np.ndarray] = {}
        supernet.eval()
        supernet.requires_grad_(False)
        try:
            for _ in range(cfg.grad_batches):
                x, y = (t[:cfg.grad_batch].to(ctx.device) for t in next(arch_batches))
                x = to_layout(x, ctx.use_channels_last)  # the weights' layout (hwnas.train.layout)
                rows = x.shape[0]
                masks = {}
                for label, p in {**alpha, **beta}.items():
                    logits = torch.log(torch.as_tensor(p, dtype=torch.float32).clamp_min(1e-12))
                    masks[label] = gumbel_softmax(logits, 1.0, generator, x.shape[0], hard=True).detach()
                    masks[label] = masks[label].to(ctx.device).requires_grad_(True)
                local = world.shard(masks)  # views: the grads of this rank's rows land in the global masks
                ops = {k: v for k, v in local.items() if is_op_label(k)}
                depth = {k: v for k, v in local.items() if is_depth_label(k)} or None
                x, y = world.shard((x, y))
                logits = supernet.forward_per_sample(x, ops, depth, hard=cfg.grad_mode == "sampled")
                (F.cross_entropy(logits, y, reduction="sum") / rows).backward()
                for label, m in masks.items():
                    # each row's grad already carries the 1/rows of the batch mean: summing the rows is the mean
                    g = m.grad.sum(0) if m.grad is not None else torch.zeros(m.shape[1], device=m.device)
                    g = world.sum_(g.double())
                    total[label] = total.get(label, 0) + g.cpu().numpy() / cfg.grad_batches
        finally:
            supernet.requires_grad_(True)
            supernet.train()
        return total

    return grad


def one_hot_dists(space: SearchSpace, choice: Choice) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    alpha, beta = {}, {}
    for dim in space.dims():
        if is_width_label(dim.label):
            continue
        v = np.zeros(len(dim.values))
        v[dim.values.index(choice[dim.label])] = 1.0
        (alpha if is_op_label(dim.label) else beta)[dim.label] = v
    return alpha, beta


def dists_to_scores(space: SearchSpace, alpha: dict, beta: dict) -> dict[str, dict[Any, float]]:
    values = {d.label: d.values for d in space.dims()}
    return {label: {v: float(np.log(max(p, 1e-12))) for v, p in zip(values[label], dist)}
            for label, dist in {**alpha, **beta}.items()}


def run_hardcore(ctx: SearchContext) -> SearchResult:
    """HardCoRe-NAS on ``ctx`` with ``ctx.config`` (a :class:`HardCoReConfig`): phases 1-5 of the module docstring;
    with ``ctx.from_supernet``, the search on that trained supernet."""
    if not ctx.constraints:
        raise ValueError("hardcore searches under a hard constraint: give at least one budget "
                         "(--max-latency-ms with --lut, --max-params, --max-macs or --max-memory-mb)")
    cfg, from_supernet = ctx.config, ctx.from_supernet
    supernet = build_supernet(ctx.space, cfg)
    fingerprint = {"space": ctx.space.name, "config": asdict(cfg), "budgets": ctx.budgets.to_dict(),
                   "seed": ctx.seed, "from_supernet": str(from_supernet or "")}
    state = SearchState(ctx.out_dir, "hardcore", fingerprint)
    saved = state.load(ctx.resume)
    history: dict[str, Any] = {}
    if from_supernet is not None:
        supernet = trained_supernet(from_supernet, ctx.space, ctx.device)
    else:  # a resumed search whose training had finished skips straight to saving the supernet
        history["supernet"] = train_oneshot(ctx, supernet, cfg, state, saved)
        save_supernet(ctx, supernet, "hardcore", {"config": asdict(cfg), "seed": ctx.seed})
    # The supernet trained and the LP costs every block at its largest width: so does the result.
    start = check_feasible(ctx.space, ctx.constraints, largest_widths=True)
    lin = LinearBudgets.from_budgets(ctx.space, ctx.constraints)
    alpha, beta = search_bcfw(ctx, supernet, cfg, lin, start, history)
    vertex_a, vertex_b = sparsify(lin, dict(alpha), dict(beta), cfg.bcfw.sparsify_steps)
    scores = dists_to_scores(ctx.space, vertex_a, vertex_b)
    rounded = {**start, **{label: max(v, key=v.get) for label, v in scores.items()}}
    chosen = project(ctx.space, dists_to_scores(ctx.space, alpha, beta), ctx.constraints, rounded,
                     largest_widths=True)
    preferred = dists_to_scores(ctx.space, alpha, beta)
    argmax = described(ctx, rounded, supernet)  # the BCFW vertex's argmax, before any repair
    extra = {"rounded_choice": rounded, "projected": chosen != rounded, "argmax": argmax,
             "supernet_val_top1": argmax["supernet_val_top1"] if chosen == rounded
             else proxy_top1(ctx, supernet, chosen),
             # for the finalist stage and the budget filling (hwnas.search.preference): the BCFW result, then
             # its nearest feasible neighbours, most preferred first
             "preference": scores_to_json(preferred),
             "finalist_pool": distinct([chosen, *feasible_neighbours(ctx.space, chosen, preferred,
                                                                     ctx.constraints)]),
             "every_iterate_feasible": all(r["feasible"] for r in history["bcfw"]),
             "from_supernet": str(from_supernet) if from_supernet else None}
    if cfg.finetune_epochs:
        extra["finetune"] = finetune(ctx, from_supernet or ctx.out_dir, chosen, cfg.finetune_epochs,
                                     ctx.out_dir / "finetune")
    return build_result(ctx, "hardcore", chosen, config=asdict(cfg), history=history, extra=extra)


def search_bcfw(ctx: SearchContext, supernet: Supernet, cfg: HardCoReConfig, lin: LinearBudgets, start: Choice,
                history: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Phase 3: BCFW from the feasible point nearest ``start``; its trace, ~20 snapshots of the distributions
    (the report's heatmap) and the final ``alpha`` and ``beta`` go into ``history``. Returns alpha and beta."""
    alpha, beta = feasible_start(lin, *one_hot_dists(ctx.space, start))
    trace: list[dict[str, Any]] = []
    snapshots: list[dict[str, Any]] = []
    names = [b.key for b in ctx.constraints if b.separable.reduce == "sum"]
    every = max(1, cfg.bcfw.total_steps // 20)

    def on_step(t: int, a: dict, b: dict, expected: np.ndarray) -> None:
        row = {"step": t, **{f"expected_{k}": float(v) for k, v in zip(names, expected)},
               "feasible": bool(np.all(expected <= lin.limits * (1 + 1e-9)))}
        trace.append(row)
        if t % every == 0 or t == cfg.bcfw.total_steps - 1:
            snapshots.append({"step": t, "probs": {k: np.round(v, 4).tolist() for k, v in {**a, **b}.items()}})
        if t % 10 == 0:
            ctx.log(t, {"kind": "bcfw", **row})

    grad_fn = make_grad_fn(ctx, supernet, cfg, ctx.generator(4))
    alpha, beta = bcfw(lin, alpha, beta, grad_fn, cfg.bcfw, np.random.default_rng(ctx.seed), on_step)
    history["bcfw"] = trace
    history["bcfw_probs"] = snapshots
    history["alpha"] = {k: v.round(6).tolist() for k, v in alpha.items()}
    history["beta"] = {k: v.round(6).tolist() for k, v in beta.items()}
    return alpha, beta


def finetune(ctx: SearchContext, supernet_dir: Path, choice: Choice, epochs: int, out_dir: Path,
             lr: float = 0.005, kd_alpha: float = 2 / 3) -> dict[str, Any]:
    """HardCoRe's last step: train the chosen child from the supernet's weights with KD (its fine-tune loss
    ``CE + 2 KL``, i.e. ``kd_alpha = 2/3`` of the mix, temperature 1) from the heaviest path as pretrained in
    phase 1 (HardCoRe's ``--initial-checkpoint_IKD``, ``teacher.pt``); a supernet saved without it teaches with
    its final heaviest path."""
    from hwnas.train import TrainConfig, train

    supernet = trained_supernet(supernet_dir, ctx.space, ctx.device)
    child = supernet.extract(choice)
    teacher = supernet.extract(ctx.space.heaviest())
    pretrained = Path(supernet_dir) / TEACHER_WEIGHTS
    if pretrained.is_file():
        teacher.load_state_dict(load_checkpoint(pretrained))
    else:
        log.warning("%s not found: the fine-tuning's teacher is the final supernet's heaviest path", pretrained)
    teacher = freeze(teacher)
    cfg = TrainConfig(epochs=epochs, lr=lr, weight_decay=1e-5, kd_alpha=kd_alpha, kd_temperature=1.0,
                      label_smoothing=0.0, progress=ctx.progress, seed=ctx.seed)
    return train(child, ctx.loaders.train, ctx.loaders.val, cfg, out_dir, device=ctx.device, teacher=teacher,
                 test_source=ctx.loaders.test)


@register
class HardCoRe(SearchMethod):
    name = "hardcore"
    summary = "heaviest-net pretraining and in-place KD, then Block-Coordinate Frank-Wolfe under a hard constraint"
    config_class = HardCoReConfig
    searches_widths = False
    reuses_supernet = True

    def run(self, ctx: SearchContext) -> SearchResult:
        return run_hardcore(ctx)

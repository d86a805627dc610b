"""TF-NAS: bi-sampling, sink-connecting depth and elasticity-scaled widths to hit a latency target (Hu et al. 2020).

Operation level, **bi-sampling** (Sec. 3.1; ``train_search.py``): each weight step trains two paths on the same
batch, the argmax of a Gumbel-softmax sample of the op distribution and a second op drawn uniformly from the
others, and backpropagates the sum of both losses; depth mixes the stage outputs with softmax(beta) (weights
detached). Every ``arch_every``-th step, the architecture (op logits alpha, depth logits beta) takes an Adam step
on an arch-split batch through the soft Gumbel-softmax mixture of every op (``arch_mode="mixture"``, the paper;
``"sampled"`` runs two sampled ops per slot instead) with the loss ``CE + lambda * |LAT / T - 1|`` (Sec. 3.4).

Depth level, **sink-connecting** (Sec. 3.2): a stage's output is ``sum_d q(d) * x_d``, the outputs after each
block weighted by the depth distribution, so skipping and the other ops are mutually exclusive.

Width level, **elasticity scaling** (Sec. 3.3): every operation of a block has its own mid width, starting at its
nominal ``e * in`` (3 or 6 x in; :func:`~hwnas.search.parts.width_scaling.op_widths`), which the supernet and the
latency term use for that operation. After every epoch past the warm-up, the widths of the argmax architecture's
operations are rescaled until its predicted latency is just within ``T``
(:mod:`hwnas.search.parts.width_scaling`); the other operations keep theirs, and the next epoch trains at those
widths. Spaces without elastic widths keep their widths (the result says so).

The final architecture (the argmax, projected onto every budget in hard mode) is scaled once more; where its widths
saturate below the target, hwnas then grows it by the op or depth changes that cost the least preference per ms
gained (:func:`hwnas.search.parts.width_scaling.reach_target`), so that its predicted latency lands within
``target_tolerance`` (1 %) of ``T`` as the paper's does after 90 epochs, also after a short search or on a space
without widths.

The temperature starts at 5 and is multiplied by 0.96 per epoch after the warm-up; the first ``warmup_epochs``
train weights only (one Gumbel path). A budget on latency is the target ``T`` and is required.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from hwnas.cost.separable import SeparableCost
from hwnas.search.budgets import feasible
from hwnas.search.context import SearchContext
from hwnas.search.method import SearchMethod
from hwnas.search.parts.arch_params import ArchParams, gumbel_softmax
from hwnas.search.parts.dnas import DnasParts, finish_dnas
from hwnas.search.parts.engine import SearchState, WeightTrainer, build_supernet, cycle_batches, run_epoch
from hwnas.search.parts.objectives import TFNAS_LAMBDA, LinearCost, tfnas_loss
from hwnas.search.parts.width_scaling import (chosen_widths, elasticity_scale, op_widths, reach_target,
                                              with_chosen_widths)
from hwnas.search.registry import register
from hwnas.search.result import SearchResult
from hwnas.space.labels import OP
from hwnas.train.layout import to_layout

log = logging.getLogger(__name__)
ARCH_MODES = ("mixture", "sampled")


@dataclass
class TFNASConfig:
    """TF-NAS search settings (its ``train_search.py`` defaults; epochs scaled down for a CPU proxy search)."""

    epochs: int = 10  # TF-NAS: 90, the first 10 weights only
    warmup_epochs: int = 2
    lr: float = 0.025  # SGD on weights, cosine
    weight_decay: float = 1e-5
    theta_lr: float = 0.01  # Adam on alpha and beta, betas (0.5, 0.999)
    theta_weight_decay: float = 5e-4
    tau0: float = 5.0
    tau_decay: float = 0.96
    lam: float = TFNAS_LAMBDA  # latency loss weight
    arch_every: int = 2  # an architecture step every N weight steps
    arch_mode: str = "mixture"
    elastic: bool = True  # elasticity scaling of widths after each epoch past the warm-up
    hard: bool = True  # project the final architecture onto every budget
    reach_target: bool = True  # (hwnas) grow ops/depth at the end where widths alone stay below the target
    target_tolerance: float = 0.01  # how far below the target the final architecture may stay
    samples: int = 0  # extra architectures drawn from the final distribution
    steps_per_epoch: int | None = None
    sharing: str = "independent"  # supernet weights: independent per candidate, or entangled (Once-for-All)
    kernel_transform: bool = False  # entangled only: Once-for-All kernel transformation matrices
    zero_init_residual: bool = False  # every residual block starts as the identity (BigNAS initialisation)

    def __post_init__(self) -> None:
        if self.arch_mode not in ARCH_MODES:
            raise ValueError(f"tfnas arch_mode must be one of {ARCH_MODES}, got {self.arch_mode!r}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"tfnas warmup_epochs={self.warmup_epochs} must be in [0, epochs={self.epochs})")
        if self.arch_every < 1:
            raise ValueError(f"tfnas arch_every must be >= 1, got {self.arch_every}")


def bi_sample(params: ArchParams, tau: float, generator: torch.Generator) -> tuple[dict, dict]:
    """Per op decision: the argmax of a Gumbel-softmax sample, and a uniform draw from the other candidates."""
    first, second = {}, {}
    for label in params.labels(OP):
        theta = params.logits[label].detach().cpu()
        i = int(gumbel_softmax(torch.log_softmax(theta, 0), tau, generator, 1)[0].argmax())
        others = [j for j in range(len(theta)) if j != i] or [i]
        first[label] = [i]
        second[label] = [others[int(torch.randint(len(others), (1,), generator=generator))]]
    return first, second


def run_tfnas(ctx: SearchContext) -> SearchResult:
    """TF-NAS on ``ctx`` with ``ctx.config`` (a :class:`TFNASConfig`), aiming at the latency budget."""
    if ctx.latency is None or ctx.budgets.max_latency_ms is None:
        raise ValueError("tfnas searches for a latency target: give --lut FILE and --max-latency-ms T")
    search = TFNASSearch(ctx, ctx.config, ctx.budgets.max_latency_ms)
    search.supernet.train()
    for epoch in range(search.start, search.cfg.epochs):
        search.train_epoch(epoch)
    return search.finish()


@dataclass
class EpochSteps:
    """One epoch's count of weight steps, and the losses of the architecture steps taken among them."""

    weight_steps: int = 0
    arch_losses: list[float] = field(default_factory=list)

    def mean_arch_loss(self) -> float | None:
        finite = [v for v in self.arch_losses if math.isfinite(v)]
        return sum(finite) / len(finite) if finite else None


class TFNASSearch:
    """The state of one TF-NAS search (supernet, logits, widths, temperature, optimisers) and its steps."""

    def __init__(self, ctx: SearchContext, cfg: TFNASConfig, target: float) -> None:
        self.ctx, self.cfg, self.target = ctx, cfg, target
        self.supernet = build_supernet(ctx.space, cfg).to(ctx.device)
        self.params = ArchParams(ctx.space).to(ctx.device)
        self.separable = SeparableCost(ctx.latency, ctx.space)
        self.widths = op_widths(ctx.space)  # width label -> one width per candidate
        self.cost = LinearCost(self.separable, self.widths).to(ctx.device)
        self.steps = min(cfg.steps_per_epoch or len(ctx.loaders.train), len(ctx.loaders.train))
        self.trainer = WeightTrainer(self.supernet, cfg.epochs * self.steps, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                     world=ctx.world, channels_last=ctx.use_channels_last)
        theta_opt = torch.optim.Adam(self.params.parameters(), lr=cfg.theta_lr, betas=(0.5, 0.999),
                                     weight_decay=cfg.theta_weight_decay)
        self.generator = ctx.generator(1)
        self.parts = DnasParts(self.supernet, self.params, self.trainer, theta_opt, self.generator)
        self.state = SearchState(ctx.out_dir, "tfnas", {"space": ctx.space.name, "config": asdict(cfg),
                                                        "budgets": ctx.budgets.to_dict(), "seed": ctx.seed})
        saved = self.state.load(ctx.resume)
        self.start, self.tau, self.history = self.parts.restore(saved, cfg.tau0)
        if saved is not None:  # a state saved with one width per slot gives it to every candidate
            self.widths = {k: tuple(v) if isinstance(v, (tuple, list)) else (v,) * len(self.widths[k])
                           for k, v in saved["widths"].items()}
            self.cost.set_widths(self.widths)
        self.arch_epoch, self.arch_batches = -1, iter(())  # the arch split's batches of the current epoch

    def arch_step(self, epoch: int) -> float:
        """One Adam step on alpha and beta: ``CE + lambda |LAT / T - 1|`` on an arch-split batch (Sec. 3.4)."""
        ctx, cfg, params = self.ctx, self.cfg, self.params
        if self.arch_epoch != epoch:  # each epoch walks the arch split in that epoch's order (resumable)
            self.arch_epoch, self.arch_batches = epoch, cycle_batches(ctx.loaders.val, first_epoch=epoch)
        x, y = next(self.arch_batches)
        x, y = ctx.world.shard((x.to(ctx.device), y.to(ctx.device)))
        x = to_layout(x, ctx.use_channels_last)  # the weights' layout (hwnas.train.layout)

        def loss_fn() -> torch.Tensor:
            ops = {k: gumbel_softmax(torch.log_softmax(params.logits[k], 0), self.tau, self.generator, 1)[0]
                   for k in params.labels(OP)}
            depth = params.depth_probs()
            if cfg.arch_mode == "mixture":
                logits = self.supernet.forward_mixture(x, ops, depth, self.widths)
            else:
                logits = self.supernet.forward_sampled(x, ops, 2, generator=self.generator, depth_weights=depth,
                                                       widths=self.widths)
            return tfnas_loss(F.cross_entropy(logits, y), self.cost(ops, depth), self.target, cfg.lam)

        return self.parts.theta_update(loss_fn)

    def weight_step(self, x: torch.Tensor, y: torch.Tensor, epoch: int, counts: EpochSteps) -> float:
        """One bi-sampling weight step (Sec. 3.1), then an architecture step every ``arch_every`` of them."""
        first, second = bi_sample(self.params, self.tau, self.generator)
        x, y = self.ctx.world.shard((x, y))
        depth = self.params.depth_probs()
        depth = None if depth is None else {k: v.detach() for k, v in depth.items()}
        warm = epoch < self.cfg.warmup_epochs

        def loss_fn() -> torch.Tensor:
            loss = F.cross_entropy(self.supernet.forward_paths(x, first, None, depth, self.widths), y)
            if not warm:  # bi-sampling; the warm-up trains the Gumbel path alone
                loss = loss + F.cross_entropy(self.supernet.forward_paths(x, second, None, depth, self.widths), y)
            return loss

        value = self.trainer.update(loss_fn)
        counts.weight_steps += 1
        if not warm and counts.weight_steps % self.cfg.arch_every == 0:
            counts.arch_losses.append(self.arch_step(epoch))
        return value

    def train_epoch(self, epoch: int) -> None:
        """One epoch of steps; past the warm-up, the temperature decays and the widths are rescaled (Sec. 3.3)."""
        ctx, cfg, params = self.ctx, self.cfg, self.params
        counts = EpochSteps()
        w_loss = run_epoch(ctx.loaders.train, epoch, lambda x, y: self.weight_step(x, y, epoch, counts),
                           f"tfnas {epoch + 1}/{cfg.epochs}", ctx.show_progress, ctx.device, limit=self.steps,
                           channels_last=ctx.use_channels_last)
        trace = None
        if epoch >= cfg.warmup_epochs:
            self.tau *= cfg.tau_decay
            if cfg.elastic:
                self.widths, trace = scale_widths(ctx, params, self.separable, self.widths, self.target)
                self.cost.set_widths(self.widths)
                self.cost.to(ctx.device)
        with torch.no_grad():
            expected = float(self.cost(params.op_probs(), params.depth_probs()))
        argmax = self.argmax()
        self.history.append({"epoch": epoch, "tau": self.tau, "weight_loss": w_loss,
                             "arch_loss": counts.mean_arch_loss(), "expected_latency_ms": expected,
                             "argmax_latency_ms": self.separable.cost(argmax), "elastic": trace,
                             "entropy": params.entropy(), "probs": params.snapshot()})
        ctx.log(self.trainer.step, {"kind": "tfnas", "epoch": epoch, "weight_loss": w_loss,
                                    "expected_latency_ms": expected, "argmax_latency_ms": self.separable.cost(argmax)})
        self.state.save(self.parts.snapshot(epoch + 1, self.tau, self.history, widths=self.widths))

    def finish(self) -> SearchResult:
        """The argmax at the last widths, projected in hard mode, then scaled and grown to the target."""
        ctx, cfg = self.ctx, self.cfg
        elastic_note = None
        if not any(slot.widths for slot in ctx.space.slots()):
            elastic_note = f"space {ctx.space.name!r} has no elastic widths: elasticity scaling did not apply"

        def refine(chosen: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            """The chosen (projected) architecture scaled, and grown where widths saturate, to the target."""
            trace: list = []
            if cfg.reach_target:
                chosen, trace = reach_target(ctx.space, chosen, self.separable.cost, self.target,
                                             self.params.scores(), lambda c: feasible(ctx.constraints, c),
                                             cfg.target_tolerance)
            return chosen, {"target_ms": self.target, "elastic_note": elastic_note, "final_scaling": trace,
                            "target_error_pct": 100 * (self.separable.cost(chosen) / self.target - 1)}

        return finish_dnas(ctx, "tfnas", self.params, cfg.samples, cfg.hard, asdict(cfg), self.history,
                           ctx.generator(2), base=self.argmax(), refine=refine, supernet=self.supernet)

    def argmax(self) -> dict[str, Any]:
        """The most probable architecture, each op at its own current width."""
        choice = self.params.argmax()
        choice.update(chosen_widths(self.ctx.space, self.widths, choice))
        return choice


def scale_widths(ctx: SearchContext, params: ArchParams, separable: SeparableCost, widths: dict[str, Any],
                 target: float) -> tuple[dict[str, Any], list]:
    """Elasticity scaling of the current argmax architecture: the per-candidate ``widths`` with the argmax
    operation of every slot rescaled (the others keep theirs), and the scaling trace."""
    choice = params.argmax()
    choice.update(chosen_widths(ctx.space, widths, choice))
    scaled, trace = elasticity_scale(ctx.space, choice, separable.cost, target)
    return with_chosen_widths(ctx.space, widths, scaled), trace


@register
class TFNAS(SearchMethod):
    name = "tfnas"
    summary = "bi-sampling, sink-connecting depth, elasticity-scaled widths to hit a latency target precisely"
    config_class = TFNASConfig
    needs_latency_target = True

    def run(self, ctx: SearchContext) -> SearchResult:
        return run_tfnas(ctx)

"""FBNet: differentiable NAS with per-sample Gumbel-softmax masks and a latency-aware loss (Wu et al. 2019).

Each search epoch trains the supernet weights on the weight split (SGD, cosine), then the architecture logits
theta on the arch split (Adam), theta frozen for the first ``warmup_epochs`` (Sec. 3.3; the reproduction's
``train_thetas_from_the_epoch``). Every sample of a batch draws its own Gumbel-softmax mask per layer (Eq. 6),
so the loss is the expectation over architectures the paper writes (Eq. 5), not a whole batch on one sampled
architecture. The temperature starts at 5 and is multiplied by ``exp(-0.045) ~ 0.956`` after every epoch in
which theta trained. The loss is ``CE * alpha * log(LAT)^beta`` (Eq. 1, LAT in microseconds, alpha 0.2,
beta 0.6), with each sample's own expected latency.

Execution: ``mixture`` runs every candidate on every sample with its soft mask (the paper); ``sampled`` runs each
sample through its own hard (straight-through) candidate only, at about the cost of one path (memory-lean).

Result: the argmax architecture and ``samples`` architectures drawn from ``P_theta``. With budgets and ``hard``
(the default), each is projected onto the budgets (:mod:`hwnas.search.parts.projection`), a guarantee FBNet itself does
not give.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from hwnas.cost.separable import SeparableCost
from hwnas.search.context import SearchContext
from hwnas.search.method import SearchMethod
from hwnas.search.parts.arch_params import ArchParams, gumbel_softmax
from hwnas.search.parts.dnas import DnasParts, finish_dnas
from hwnas.search.parts.engine import SearchState, WeightTrainer, build_supernet, run_epoch
from hwnas.search.parts.objectives import FBNET_ALPHA, FBNET_BETA, LOSS_FORMS, LinearCost, fbnet_loss
from hwnas.search.registry import register
from hwnas.search.result import SearchResult
from hwnas.space.labels import is_op_label

log = logging.getLogger(__name__)
MODES = ("mixture", "sampled")


@dataclass
class FBNetConfig:
    """FBNet search settings (paper and reproduction values, epochs scaled down for a CPU proxy search)."""

    epochs: int = 10  # search epochs (the reproduction: 180 on CIFAR-10, theta from epoch 10)
    warmup_epochs: int = 2  # weights only, theta frozen
    lr: float = 0.1  # SGD on weights, cosine over all epochs
    weight_decay: float = 1e-4
    theta_lr: float = 0.01  # Adam on theta
    theta_weight_decay: float = 5e-4
    tau0: float = 5.0  # initial Gumbel-softmax temperature
    tau_decay: float = math.exp(-0.045)  # per epoch with theta training (~0.956)
    alpha: float = FBNET_ALPHA
    beta: float = FBNET_BETA
    loss_form: str = "multiplicative"  # or "additive": CE + alpha * log(LAT)^beta
    mode: str = "mixture"  # or "sampled" (hard straight-through per sample, about one path per step)
    samples: int = 6  # architectures drawn from P_theta at the end, besides the argmax
    hard: bool = True  # project the results onto the budgets
    steps_per_epoch: int | None = None  # cap on weight steps per epoch (None: the whole weight split)
    sharing: str = "independent"  # supernet weights: independent per candidate, or entangled (Once-for-All)
    kernel_transform: bool = False  # entangled only: Once-for-All kernel transformation matrices
    zero_init_residual: bool = False  # every residual block starts as the identity (BigNAS initialisation)
    arch_steps_per_epoch: int | None = None  # cap on theta steps per epoch

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"fbnet mode must be one of {MODES}, got {self.mode!r}")
        if self.loss_form not in LOSS_FORMS:
            raise ValueError(f"fbnet loss_form must be one of {LOSS_FORMS}, got {self.loss_form!r}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"fbnet warmup_epochs={self.warmup_epochs} must be in [0, epochs={self.epochs})")
        if not (self.tau0 > 0 and 0 < self.tau_decay <= 1):
            raise ValueError("fbnet needs tau0 > 0 and tau_decay in (0, 1]")


def loss_cost(ctx: SearchContext) -> SeparableCost:
    """The cost in the loss: the latency table, or MACs when the search has no table (FLOPs-aware FBNet)."""
    if ctx.latency is not None:
        return SeparableCost(ctx.latency, ctx.space)
    from hwnas.cost.models import AnalyticCost

    log.warning("no latency table: the FBNet loss uses MACs (in thousands) in place of latency in microseconds")
    return KiloMacs(AnalyticCost.for_space("macs", ctx.space), ctx.space)


class KiloMacs(SeparableCost):
    """MACs in thousands: ``log`` of them stands in for ``log`` of microseconds in Eq. 1.

    Why thousands: Eq. 1's factor ``log(LAT)^beta`` needs ``LAT > 1`` (below it the log is clamped and the loss,
    and every gradient, collapses to about 0). Networks for 28-32 px inputs have 0.1-50 M MACs, so in millions
    the small ones fell under 1; in thousands any network is far above 1 (``log`` 4.6-11), the range
    ``log(us)`` covers for the paper's 10-100 ms ImageNet networks (9.2-11.5)."""

    def _expected(self, hot, widths=None) -> float:
        return super()._expected(hot, widths) / 1e3 / 1000.0  # fbnet_loss multiplies by 1000 (ms -> us)


def masks(params: ArchParams, tau: float, batch: int, generator: torch.Generator, hard: bool,
          device: torch.device) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Per-sample Gumbel-softmax masks for every op decision, and for every depth decision (sink-connecting)."""
    ops, depth = {}, {}
    for label, theta in params.logits.items():
        m = gumbel_softmax(theta.to(device), tau, generator, batch, hard=hard)
        (ops if is_op_label(label) else depth)[label] = m
    return ops, depth or None


def run_fbnet(ctx: SearchContext) -> SearchResult:
    """FBNet on ``ctx`` with ``ctx.config`` (an :class:`FBNetConfig`)."""
    cfg = ctx.config
    supernet = build_supernet(ctx.space, cfg).to(ctx.device)
    params = ArchParams(ctx.space).to(ctx.device)
    cost = LinearCost(loss_cost(ctx)).to(ctx.device)
    steps = min(cfg.steps_per_epoch or len(ctx.loaders.train), len(ctx.loaders.train))
    arch_steps = min(cfg.arch_steps_per_epoch or len(ctx.loaders.val), len(ctx.loaders.val))
    trainer = WeightTrainer(supernet, cfg.epochs * steps, lr=cfg.lr, weight_decay=cfg.weight_decay, world=ctx.world,
                            channels_last=ctx.use_channels_last)
    theta_opt = torch.optim.Adam(params.parameters(), lr=cfg.theta_lr, weight_decay=cfg.theta_weight_decay)
    generator = ctx.generator(1)
    parts = DnasParts(supernet, params, trainer, theta_opt, generator)
    state = SearchState(ctx.out_dir, "fbnet", {"space": ctx.space.name, "config": asdict(cfg),
                                               "budgets": ctx.budgets.to_dict(), "seed": ctx.seed})
    start, tau, history = parts.restore(state.load(ctx.resume), cfg.tau0)
    hard = cfg.mode == "sampled"

    def forward(x: torch.Tensor, y: torch.Tensor, with_theta: bool) -> torch.Tensor:
        ops, depth = masks(params, tau, x.shape[0], generator, hard, ctx.device)  # per sample of the global batch
        x, y, ops, depth = ctx.world.shard((x, y, ops, depth))  # this rank's rows of all four
        if not with_theta:
            ops = {k: v.detach() for k, v in ops.items()}
            depth = None if depth is None else {k: v.detach() for k, v in depth.items()}
        logits = supernet.forward_per_sample(x, ops, depth, hard=hard)
        ce = F.cross_entropy(logits, y, reduction="none")
        return fbnet_loss(ce, cost(ops, depth), cfg.alpha, cfg.beta, cfg.loss_form)

    def theta_step(x: torch.Tensor, y: torch.Tensor) -> float:
        return parts.theta_update(lambda: forward(x, y, with_theta=True))

    supernet.train()
    for epoch in range(start, cfg.epochs):
        w_loss = run_epoch(ctx.loaders.train, epoch, lambda x, y: trainer.update(lambda: forward(x, y, False)),
                           f"fbnet weights {epoch + 1}/{cfg.epochs}", ctx.show_progress, ctx.device, limit=steps,
                           channels_last=ctx.use_channels_last)
        a_loss = None
        if epoch >= cfg.warmup_epochs:
            a_loss = run_epoch(ctx.loaders.val, epoch, theta_step, f"fbnet theta {epoch + 1}/{cfg.epochs}",
                               ctx.show_progress, ctx.device, limit=arch_steps, channels_last=ctx.use_channels_last)
        with torch.no_grad():
            expected = float(cost(params.op_probs(), params.depth_probs()))
        history.append({"epoch": epoch, "tau": tau, "weight_loss": w_loss, "theta_loss": a_loss,
                        "expected_cost": expected, "entropy": params.entropy(), "probs": params.snapshot()})
        ctx.log(trainer.step, {"kind": "fbnet", "epoch": epoch, "weight_loss": w_loss, "theta_loss": a_loss,
                               "tau": tau, "expected_cost": expected, "entropy": params.entropy()})
        if epoch >= cfg.warmup_epochs:
            tau *= cfg.tau_decay
        state.save(parts.snapshot(epoch + 1, tau, history))
    return finish_dnas(ctx, "fbnet", params, cfg.samples, cfg.hard, asdict(cfg), history,
                       ctx.generator(2), supernet=supernet)


@register
class FBNet(SearchMethod):
    name = "fbnet"
    summary = "DNAS: Gumbel-softmax over per-layer candidates, loss CE * alpha * log(LAT)^beta with the latency table"
    config_class = FBNetConfig
    searches_widths = False

    def run(self, ctx: SearchContext) -> SearchResult:
        return run_fbnet(ctx)

"""What FBNet and TF-NAS share: their resumable state and how their final architectures are chosen.

Both keep supernet weights, architecture logits, a weight optimiser, an Adam on the logits, a Gumbel noise generator
and a temperature; both end with the argmax architecture (and draws from the distribution), projected onto the
budgets in hard mode (:mod:`hwnas.search.parts.projection`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from hwnas.nn.global_bn import synchronised
from hwnas.search.context import SearchContext
from hwnas.search.parts.arch_params import ArchParams
from hwnas.search.parts.engine import MAX_NONFINITE, WeightTrainer
from hwnas.search.parts.projection import project
from hwnas.search.parts.proxy import described, proxy_top1
from hwnas.search.preference import distinct, scores_to_json
from hwnas.search.result import SearchResult, build_result
from hwnas.supernet import Supernet
from hwnas.train import NonFiniteLossError

log = logging.getLogger(__name__)


class DnasParts:
    """The objects a DNAS search updates, saved and restored together."""

    def __init__(self, supernet: Supernet, params: ArchParams, trainer: WeightTrainer,
                 theta_opt: torch.optim.Optimizer, generator: torch.Generator) -> None:
        self.supernet, self.params, self.trainer = supernet, params, trainer
        self.theta_opt, self.generator = theta_opt, generator
        self.nonfinite = 0  # consecutive skipped architecture steps
        self.skipped = 0

    def snapshot(self, epoch: int, tau: float, history: list, **extra: Any) -> dict[str, Any]:
        return {"epoch": epoch, "tau": tau, "history": history, "supernet": self.supernet.state_dict(),
                "params": self.params.state_dict(), "trainer": self.trainer.state_dict(),
                "theta_opt": self.theta_opt.state_dict(), "generator": self.generator.get_state(), **extra}

    def theta_update(self, loss_fn) -> float:
        """One Adam step on the architecture logits with the supernet weights frozen (their gradients are not
        even computed). A step whose loss or logit gradient is NaN/inf is skipped (the logits and Adam's moments
        stay as they were); ``MAX_NONFINITE`` in a row raise :class:`~hwnas.train.NonFiniteLossError`. Under
        torchrun the logits' gradients are averaged over the ranks and the logits checked identical on every rank
        afterwards. Returns the global batch's loss."""
        world = self.trainer.world
        self.theta_opt.zero_grad(set_to_none=True)
        self.supernet.requires_grad_(False)
        try:
            with synchronised(self.supernet, world):
                loss = loss_fn()
            value = world.mean(float(loss.detach()))
            ok = math.isfinite(value)
            if ok:
                loss.backward()
                world.average_gradients(self.params.parameters())
                ok = all(bool(torch.isfinite(p.grad).all()) for p in self.params.parameters() if p.grad is not None)
                if ok:
                    self.theta_opt.step()
        finally:
            self.supernet.requires_grad_(True)
        self.theta_opt.zero_grad(set_to_none=True)
        self._account(ok, value)
        world.check_replicated(self.params.parameters(), "architecture parameters")
        return value

    def _account(self, ok: bool, value: float) -> None:
        if ok:
            self.nonfinite = 0
            return
        self.nonfinite += 1
        self.skipped += 1
        if self.nonfinite >= MAX_NONFINITE:
            raise NonFiniteLossError(f"{self.nonfinite} consecutive architecture steps with a non-finite loss or "
                                     f"gradient (loss={value}): lower theta_lr or check the data")
        log.warning("non-finite architecture loss or gradient (loss=%s): step skipped", value)

    def restore(self, saved: Mapping[str, Any] | None, tau0: float) -> tuple[int, float, list]:
        """Load ``saved`` (a :meth:`snapshot`); returns (next epoch, temperature, history)."""
        if saved is None:
            return 0, tau0, []
        self.supernet.load_state_dict(saved["supernet"])
        self.params.load_state_dict(saved["params"])
        self.trainer.load_state_dict(saved["trainer"])
        self.theta_opt.load_state_dict(saved["theta_opt"])
        self.generator.set_state(saved["generator"])
        return int(saved["epoch"]), float(saved["tau"]), list(saved["history"])


def finish_dnas(ctx: SearchContext, method: str, params: ArchParams, samples: int, hard: bool,
                config: dict[str, Any], history: list, generator: torch.Generator,
                base: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
                refine: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]] | None = None,
                supernet: Supernet | None = None) -> SearchResult:
    """Argmax (and sampled) architectures, projected onto the budgets when ``hard``; the result.

    ``refine`` (TF-NAS: reach the target) maps the chosen architecture to its final form and extra result fields.
    With ``supernet``, the chosen network and the unprojected argmax get their proxy top-1 on the arch split
    (:mod:`hwnas.search.parts.proxy`).
    """
    scores = params.scores()
    argmax = params.argmax(base)
    raw = [params.sample(generator, base) for _ in range(samples)]
    fixed = base is None  # FBNet keeps the largest widths; TF-NAS passes its scaled widths as ``base``
    onto_budgets = hard and bool(ctx.constraints)

    def projected(choice: dict[str, Any]) -> dict[str, Any]:
        return project(ctx.space, scores, ctx.constraints, choice, largest_widths=fixed) if onto_budgets else choice

    chosen = projected(argmax)
    drawn = [projected(d) for d in raw]
    info = {"argmax_choice": argmax, "projected": chosen != argmax, "hard": hard, **(extra or {})}
    if refine is not None:
        chosen, more = refine(chosen)
        info.update(more)
    # the distribution's own answer before any projection or growth: arch text, predicted latency, costs
    info["argmax"] = described(ctx, argmax, supernet)
    if supernet is not None:
        info["supernet_val_top1"] = (info["argmax"]["supernet_val_top1"] if chosen == argmax
                                     else proxy_top1(ctx, supernet, chosen))
    # What the finalist stage draws from and the budget filling trades against (hwnas.search.preference).
    info["preference"] = scores_to_json(scores)
    info["finalist_pool"], info["pool_top_up"] = finalist_pool(
        [chosen, *drawn, argmax], samples + 1,
        lambda temperature: projected(params.sample(generator, base, temperature)))
    result = build_result(ctx, method, chosen, config=config, history=history, samples=drawn, extra=info)
    for sample, draw, kept in zip(result.samples, raw, drawn):  # a draw from P_theta, or its projection
        sample["draw"] = "raw" if kept == draw else "projected"
        if kept != draw:
            sample["raw_arch"] = described(ctx, draw)["arch"]
    return result


TOP_UP_TEMPERATURES = (1.0, 2.0, 4.0)
"""Draw temperatures tried in turn when the final draws repeat: ``P_theta`` itself first, then flatter."""
TOP_UP_DRAWS = 24
"""At most this many extra draws per temperature."""


def finalist_pool(first: list[dict[str, Any]], want: int,
                  draw: Callable[[float], dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The distinct candidates of ``first`` (the chosen network, the draws, the argmax), topped up with more draws
    until ``want`` are distinct.

    A distribution that has collapsed onto one network gives the same architecture on most draws, and projection
    onto the budget maps different draws onto one network, so the finalist stage (FBNet Sec. 3.3 trains several
    sampled architectures, not the argmax alone) would get fewer alternatives than it asks for. Extra draws come
    from ``P_theta`` first and from flatter versions of it (``P ** (1 / T)``) only when those repeat too; the
    draws are made after every other use of the generator, so the chosen network and the reported samples do not
    change. Returns the pool and what the top-up took (draws, the last temperature, distinct count).
    """
    pool = distinct(first)
    extra, temperature = 0, 1.0
    for temperature in TOP_UP_TEMPERATURES:
        tries = 0
        while len(pool) < want and tries < TOP_UP_DRAWS:
            pool = distinct([*pool, draw(temperature)])
            tries += 1
        extra += tries
        if len(pool) >= want:
            break
    return pool, {"draws": extra, "temperature": temperature if extra else None, "distinct": len(pool)}


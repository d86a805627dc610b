"""Block-Coordinate Frank-Wolfe over architecture distributions under hard linear budgets (HardCoRe-NAS).

HardCoRe-NAS (Nayman et al. 2021, Sec. 3.2-3.3) searches op distributions ``alpha`` (one simplex per block) and
depth distributions ``beta`` (one simplex per stage). The expected latency

    E[LAT](alpha, beta) = fixed + sum_l P(l active | beta) * sum_i alpha_{l,i} * t_{l,i}

is bilinear: linear in ``alpha`` for fixed ``beta`` and in ``beta`` for fixed ``alpha``. So each step picks one
block of variables (``alpha`` or ``beta``, at random), takes the linear program

    s = argmin_{s in simplices} <g, s>   subject to   E[cost](s) <= limit   for every budget

with ``g`` the (momentum-averaged) gradient of the validation loss, and moves ``x <- x + gamma (s - x)``. Both ``x``
and ``s`` are feasible and the constraint is linear in the block, so **every iterate satisfies every budget**.

The LP over a product of simplices with one linear constraint is the relaxation of a multiple-choice knapsack;
:func:`solve_lp` solves it exactly by bisection on the Lagrange multiplier: the optimum mixes the two
multiplier-optimal vertices on either side of the breakpoint, which makes the constraint tight. With several
budgets it solves the LP exactly with HiGHS (SciPy's ``linprog``; a dual-simplex vertex, so at most one
fractional simplex per budget), which the tests check against enumerating every basis. Max-type budgets (peak
memory) are exact exclusions: candidates whose own peak exceeds the limit get probability 0.

At the end, LP steps with ``gamma = 1`` towards ``-x`` move to a vertex (HardCoRe's ``sparsify``), and the
per-block argmax is the architecture, projected onto the budgets if rounding broke one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hwnas.cost.penalty import expected_numpy, slot_active_numpy
from hwnas.search.budgets import BudgetConstraint
from hwnas.space.base import SearchSpace
from hwnas.space.labels import depth_label

Dist = dict[str, np.ndarray]
"""Decision label -> probability vector (``s{i}_b{j}_op`` over candidates, ``s{i}_depth`` over depths)."""

BISECTION_STEPS = 60
TOL = 1e-9


# -------------------------------------------------------------------------------------------- the LP oracle
def _pick(c: Sequence[np.ndarray], a: Sequence[np.ndarray], lam: np.ndarray) -> list[np.ndarray]:
    """Per block, the vertex minimising ``c + lam . a`` (ties: the smaller constraint use)."""
    out = []
    for cl, al in zip(c, a):
        v = cl + lam @ al
        best = np.flatnonzero(v <= v.min() + 1e-12 * (1 + abs(v.min())))
        use = (al[:, best] / 1.0).sum(0)
        x = np.zeros_like(cl)
        x[best[int(np.argmin(use))]] = 1.0
        out.append(x)
    return out


def _use(a: Sequence[np.ndarray], x: Sequence[np.ndarray]) -> np.ndarray:
    return sum(al @ xl for al, xl in zip(a, x))


def solve_lp(c: Sequence[np.ndarray], a: Sequence[np.ndarray], b: np.ndarray,
             fallback: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``argmin sum_l <c_l, x_l>`` over simplices ``x_l`` s.t. ``sum_l a_l x_l <= b`` (``a_l``: ``(m, K_l)``,
    excluded candidates carry ``c = inf``). ``fallback`` is a feasible point, used when the LP has no better one.
    """
    b = np.asarray(b, dtype=float)
    scale = np.where(np.abs(b) > 0, np.abs(b), 1.0)
    a = [al / scale[:, None] for al in a]  # every budget in units of its limit
    b = b / scale
    m = len(b)
    lam = np.zeros(m)
    x = _pick(c, a, lam)
    if np.all(_use(a, x) <= b + TOL):
        return x
    if m == 1:
        return _bisect_one(c, a, b, fallback)
    return _pull_back(a, b, _highs(c, a, b, fallback), fallback)  # exact; the pull-back only absorbs round-off


def _highs(c, a, b, fallback) -> list[np.ndarray]:
    """The LP with several budgets, exactly, by HiGHS: one equality row per simplex, one inequality per budget,
    excluded candidates (``c = inf``) bounded to 0. ``fallback`` if HiGHS finds no solution (it is feasible)."""
    from scipy.optimize import linprog

    sizes = [len(cl) for cl in c]
    cost = np.concatenate([np.where(np.isfinite(cl), cl, 0.0) for cl in c])
    bounds = [(0.0, 1.0 if np.isfinite(v) else 0.0) for cl in c for v in cl]
    a_eq = np.zeros((len(c), len(cost)))
    start = np.cumsum([0, *sizes])
    for l, (lo, hi) in enumerate(zip(start[:-1], start[1:])):
        a_eq[l, lo:hi] = 1.0
    out = linprog(cost, A_ub=np.concatenate(a, axis=1), b_ub=b, A_eq=a_eq, b_eq=np.ones(len(c)), bounds=bounds,
                  method="highs")
    if out.status != 0:
        return [f.copy() for f in fallback]
    x = np.clip(out.x, 0.0, None)
    return [x[lo:hi] / x[lo:hi].sum() for lo, hi in zip(start[:-1], start[1:])]


def _bisect_one(c, a, b, fallback) -> list[np.ndarray]:
    lo, hi = 0.0, 1.0
    while np.any(_use(a, _pick(c, a, np.array([hi]))) > b + TOL):
        hi *= 4.0
        if hi > 1e15:
            return [f.copy() for f in fallback]
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if np.all(_use(a, _pick(c, a, np.array([mid]))) <= b + TOL):
            hi = mid
        else:
            lo = mid
    x_in, x_out = _pick(c, a, np.array([hi])), _pick(c, a, np.array([lo]))
    g_in, g_out = float(_use(a, x_in)[0]), float(_use(a, x_out)[0])
    theta = 0.0 if g_out <= g_in else min(max((b[0] - g_in) / (g_out - g_in), 0.0), 1.0)
    return [theta * xo + (1 - theta) * xi for xo, xi in zip(x_out, x_in)]


def _pull_back(a, b, x, fallback) -> list[np.ndarray]:
    """``fallback + theta (x - fallback)`` with the largest ``theta`` in [0, 1] meeting every budget."""
    base, direction = _use(a, fallback), _use(a, x) - _use(a, fallback)
    theta = 1.0
    for k in range(len(b)):
        if direction[k] > 0:
            theta = min(theta, max((b[k] - base[k]) / direction[k], 0.0))
    return [f + theta * (xl - f) for f, xl in zip(fallback, x)]


# -------------------------------------------------------------------------------------------- costs
@dataclass
class LinearBudgets:
    """The sum-type budgets as per-candidate term tables, and the candidates max-type budgets exclude."""

    space: SearchSpace
    limits: np.ndarray  # (m,)
    fixed: np.ndarray  # (m,)
    terms: dict[str, np.ndarray]  # op label -> (m, K)
    allowed: dict[str, np.ndarray]  # op label -> (K,) bool

    @classmethod
    def from_budgets(cls, space: SearchSpace, budgets: Sequence[BudgetConstraint]) -> LinearBudgets:
        linear = [b for b in budgets if b.separable.reduce == "sum"]
        terms, allowed = {}, {}
        for slot in space.slots():
            terms[slot.op_label] = np.array([b.separable.terms(slot) for b in linear]).reshape(len(linear), -1)
            ok = np.ones(len(slot.candidates), dtype=bool)
            for b in budgets:
                if b.separable.reduce == "max":
                    ok &= np.array(b.separable.terms(slot)) <= b.limit
            if not ok.any():
                raise ValueError(f"no candidate of {slot.label} fits the {b.key} budget")
            allowed[slot.op_label] = ok
        return cls(space, np.array([b.limit for b in linear]), np.array([b.separable.fixed for b in linear]),
                   terms, allowed)

    def active(self, beta: Mapping[str, np.ndarray]) -> dict[str, float]:
        """P(slot active) for every slot under the depth distributions ``beta`` (TF-NAS sink-connecting)."""
        return slot_active_numpy(self.space, beta)

    def expected(self, alpha: Mapping[str, np.ndarray], beta: Mapping[str, np.ndarray]) -> np.ndarray:
        """Expected value of every linear budget, ``(m,)`` (the numpy view of :mod:`hwnas.cost.penalty`)."""
        return expected_numpy(self.space, self.fixed, self.terms, alpha, beta)

    def alpha_problem(self, beta: Mapping[str, np.ndarray]) -> tuple[list[str], list[np.ndarray], np.ndarray]:
        """Constraint rows of the ``alpha`` LP for fixed ``beta``: labels, ``a_l`` (m, K), remaining budget."""
        p = self.active(beta)
        labels = [slot.op_label for slot in self.space.slots()]
        a = [p[slot.label] * self.terms[slot.op_label] for slot in self.space.slots()]
        return labels, a, self.limits - self.fixed

    def beta_problem(self, alpha: Mapping[str, np.ndarray]) -> tuple[list[str], list[np.ndarray], np.ndarray]:
        """Constraint rows of the ``beta`` LP for fixed ``alpha`` (``a`` over each stage's depths)."""
        labels, a, rest = [], [], self.limits - self.fixed
        for s, stage in enumerate(self.space.slots_by_stage):
            per_slot = [self.terms[slot.op_label] @ alpha[slot.op_label] for slot in stage]  # each (m,)
            low = self.space.min_depth.get(s)
            if low is None:
                rest = rest - sum(per_slot, np.zeros_like(rest))
                continue
            rest = rest - sum(per_slot[:low], np.zeros_like(rest))
            cum = np.cumsum([np.zeros_like(rest), *per_slot[low:]], axis=0)  # (depths, m)
            labels.append(depth_label(s))
            a.append(cum.T)
        return labels, a, rest


# -------------------------------------------------------------------------------------------- the search
STEP_RULES = ("fw", "fixed")
FW_STEPS = 300  # the classic Frank-Wolfe step 2/(t+2) converges in a few hundred steps
FIXED_STEPS, FIXED_GAMMA = 1000, 0.002  # HardCoRe-NAS's search.py defaults (its README runs 10 000 steps)


@dataclass
class BCFWConfig:
    """The Frank-Wolfe schedule: ``step="fw"``, the classic ``2 / (t + 2)`` over ``steps`` (default 300), or
    ``step="fixed"``, HardCoRe-NAS's code: ``gamma`` (default 0.002) every step over ``steps`` (default 1000).
    Giving ``gamma`` alone means the fixed step."""

    steps: int | None = None  # None: 300 with the fw step, 1000 with the fixed one
    momentum: float = 0.9  # gradient averaging: buf = m * buf + (1 - m) * g
    step: str = "fw"
    gamma: float | None = None  # the fixed step size (None: HardCoRe-NAS's 0.002)
    sparsify_steps: int = 10  # final gamma = 1 LP rounds towards a vertex

    def __post_init__(self) -> None:
        if self.step not in STEP_RULES:
            raise ValueError(f"bcfw step must be one of {STEP_RULES}, got {self.step!r}")
        if self.gamma is not None and not 0 < self.gamma <= 1:
            raise ValueError(f"bcfw gamma must be in (0, 1], got {self.gamma}")
        if self.steps is not None and (isinstance(self.steps, bool) or not isinstance(self.steps, int)
                                       or self.steps < 1):
            raise ValueError(f"bcfw steps must be a positive integer, got {self.steps!r}")

    @property
    def fixed(self) -> bool:
        return self.step == "fixed" or self.gamma is not None

    @property
    def total_steps(self) -> int:
        if self.steps is not None:
            return self.steps
        return FIXED_STEPS if self.fixed else FW_STEPS

    def step_size(self, t: int) -> float:
        """The step size of step ``t`` (from 0)."""
        if self.fixed:
            return FIXED_GAMMA if self.gamma is None else self.gamma
        return 2.0 / (t + 2.0)


def feasible_start(lin: LinearBudgets, vertex_alpha: Dist, vertex_beta: Dist) -> tuple[Dist, Dist]:
    """Uniform distributions pulled towards a feasible vertex just enough to meet every budget: a balanced
    feasible start, like HardCoRe's QP initialisation."""
    uni_a = {k: np.where(lin.allowed[k], 1.0, 0.0) / lin.allowed[k].sum() for k in vertex_alpha}
    uni_b = {k: np.full(len(v), 1.0 / len(v)) for k, v in vertex_beta.items()}
    lo, hi = 0.0, 1.0
    for _ in range(BISECTION_STEPS):
        t = 0.5 * (lo + hi)
        a = {k: (1 - t) * vertex_alpha[k] + t * uni_a[k] for k in uni_a}
        b = {k: (1 - t) * vertex_beta[k] + t * uni_b[k] for k in uni_b}
        lo, hi = (t, hi) if np.all(lin.expected(a, b) <= lin.limits + TOL) else (lo, t)
    t = lo
    return ({k: (1 - t) * vertex_alpha[k] + t * uni_a[k] for k in uni_a},
            {k: (1 - t) * vertex_beta[k] + t * uni_b[k] for k in uni_b})


def lp_step(lin: LinearBudgets, block: str, grads: Dist, alpha: Dist, beta: Dist) -> Dist:
    """The LP vertex (or tight mixture) for ``block`` ("alpha" or "beta") given the other block."""
    if block == "alpha":
        labels, a, rest = lin.alpha_problem(beta)
        current = alpha
    else:
        labels, a, rest = lin.beta_problem(alpha)
        current = beta
    c = []
    for label in labels:
        g = np.asarray(grads[label], dtype=float).copy()
        if block == "alpha":
            g[~lin.allowed[label]] = np.inf
        c.append(g)
    if not len(rest):  # no linear budget: the unconstrained LP
        return {label: _pick([cl], [np.zeros((0, len(cl)))], np.zeros(0))[0] for label, cl in zip(labels, c)}
    s = solve_lp(c, a, rest, [current[label] for label in labels])
    return dict(zip(labels, s))


MAX_NONFINITE_STEPS = 10


def bcfw(lin: LinearBudgets, alpha: Dist, beta: Dist, grad_fn: Callable[[Dist, Dist], Dist], cfg: BCFWConfig,
         rng: np.random.Generator, on_step: Callable[[int, Dist, Dist, np.ndarray], None] | None = None
         ) -> tuple[Dist, Dist]:
    """Run ``cfg.total_steps`` BCFW steps from a feasible ``(alpha, beta)``; returns the final distributions.

    A step whose gradient has a NaN/inf is skipped (neither the momentum buffers nor the iterate move), ten in a
    row raise :class:`~hwnas.train.NonFiniteLossError`: an LP over a NaN objective would pick an arbitrary vertex.
    """
    buffers: Dist = {}
    blocks = ["alpha", "beta"] if beta else ["alpha"]
    bad = 0  # consecutive steps with a non-finite gradient: skipped, so the iterate stays where it was
    for t in range(cfg.total_steps):
        grads = grad_fn(alpha, beta)
        if not all(np.all(np.isfinite(g)) for g in grads.values()):
            bad += 1
            if bad >= MAX_NONFINITE_STEPS:
                from hwnas.train import NonFiniteLossError

                raise NonFiniteLossError(f"{bad} consecutive BCFW steps with a non-finite gradient: check the data "
                                         "and the supernet (its loss is NaN/inf)")
            if on_step is not None:
                on_step(t, alpha, beta, lin.expected(alpha, beta))
            continue
        bad = 0
        for k, g in grads.items():
            buffers[k] = cfg.momentum * buffers.get(k, np.zeros_like(g)) + (1 - cfg.momentum) * g
        block = blocks[int(rng.integers(len(blocks)))]
        s = lp_step(lin, block, buffers, alpha, beta)
        gamma = cfg.step_size(t)
        target = alpha if block == "alpha" else beta
        for k in s:
            target[k] = target[k] + gamma * (s[k] - target[k])
        if on_step is not None:
            on_step(t, alpha, beta, lin.expected(alpha, beta))
    return alpha, beta


def sparsify(lin: LinearBudgets, alpha: Dist, beta: Dist, rounds: int) -> tuple[Dist, Dist]:
    """Move to a vertex of the feasible set by LP steps with ``gamma = 1`` and objective ``-x`` (alternating
    blocks): each step keeps the budgets and leaves at most one fractional simplex per block."""
    for _ in range(rounds):
        alpha = {**alpha, **lp_step(lin, "alpha", {k: -v for k, v in alpha.items()}, alpha, beta)}
        if beta:
            beta = {**beta, **lp_step(lin, "beta", {k: -v for k, v in beta.items()}, alpha, beta)}
    return alpha, beta

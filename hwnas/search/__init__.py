"""The search methods: FBNet, TF-NAS, SPOS, HardCoRe-NAS and the random baseline, on shared parts.

``search(method, space, dataset, out=..., lut=..., budgets=Budgets(max_latency_ms=...))`` runs one end to end
(:mod:`hwnas.search.api`). The layout:

- the contract and its plumbing, at this level: :mod:`.method` (``SearchMethod``: what a method declares and its
  ``run(ctx)``), :mod:`.registry` (methods by name, read by the CLI, ``hwnas run``, the report and the docs),
  :mod:`.context` (``SearchContext``: what a method is given), :mod:`.result` (``SearchResult``, ``result.json``),
  :mod:`.budgets` (budgets and feasibility), :mod:`.closed_loop` (the measured closed loop), :mod:`.api`;
- :mod:`.methods`: one module per registered method (its config dataclass, its algorithm, its ``@register``
  class): ``fbnet``, ``tfnas``, ``spos``, ``hardcore``, ``random``;
- :mod:`.parts`: the machinery methods share (weight steps and resumable state, architecture logits, the DNAS
  and one-shot phases, path sampling, evolution, Frank-Wolfe, projection onto budgets, TF-NAS width scaling,
  loss terms). Separable costs are a cost concept (:mod:`hwnas.cost.separable`).
"""

# Importing the built-in methods registers them (as timm's model modules do): whoever reads the registry has
# imported this package first, so the registry itself never imports a method.
import hwnas.search.methods  # noqa: F401
from hwnas.search.api import method_config, search
from hwnas.search.budgets import BudgetConstraint, Budgets, InfeasibleBudgetError, check_feasible, make_budgets

__all__ = ["BudgetConstraint", "Budgets", "InfeasibleBudgetError", "check_feasible", "make_budgets",
           "method_config", "search"]

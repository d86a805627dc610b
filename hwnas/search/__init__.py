"""The search methods: FBNet, TF-NAS, SPOS, HardCoRe-NAS and the random baseline, on shared parts.

``search(method, space, dataset, out=..., lut=..., budgets=Budgets(max_latency_ms=...))`` runs one end to end
(:mod:`hwnas.search.api`); each method is its own module, and the parts they share are small modules of their
own: budgets and feasibility (:mod:`.budgets`), separable costs (:mod:`.separable`), projection onto budgets
(:mod:`.projection`), evolution and random search (:mod:`.evolution`), Frank-Wolfe (:mod:`.bcfw`), elasticity
scaling (:mod:`.elastic`), loss terms (:mod:`.objectives`).
"""

from hwnas.search.api import method_config, search
from hwnas.search.budgets import Budget, Budgets, InfeasibleBudgetError, check_feasible, make_budgets

__all__ = ["Budget", "Budgets", "InfeasibleBudgetError", "check_feasible", "make_budgets",
           "method_config", "search"]

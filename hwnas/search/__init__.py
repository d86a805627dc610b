"""The search methods: FBNet, TF-NAS, SPOS, HardCoRe-NAS and the random baseline, on shared parts.

``search(method, space, dataset, out=..., lut=..., budgets=Budgets(max_latency_ms=...))`` runs one end to end
(:mod:`hwnas.search.api`); each method is its own module, and the parts they share are small modules of their
own: budgets and feasibility (:mod:`.budgets`), separable costs (:mod:`hwnas.cost.separable`), projection onto budgets
(:mod:`.projection`), evolution and random search (:mod:`.evolution`), Frank-Wolfe (:mod:`.bcfw`), elasticity
scaling (:mod:`.elastic`), loss terms (:mod:`.objectives`).
"""

# Importing the built-in methods registers them (as timm's model modules do): whoever reads the registry has
# imported this package first, so the registry itself never imports a method.
import hwnas.search.methods  # noqa: F401
from hwnas.search.api import method_config, search
from hwnas.search.budgets import Budget, Budgets, InfeasibleBudgetError, check_feasible, make_budgets

__all__ = ["Budget", "Budgets", "InfeasibleBudgetError", "check_feasible", "make_budgets",
           "method_config", "search"]

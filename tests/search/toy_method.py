"""A toy search method, written the way a new method is added to hwnas: one module, one registered class.

``toy`` draws ``draws`` architectures inside the budgets (seeded from the search seed) and returns the last one.
It trains nothing, so it shows only the contract: a config dataclass, the class attributes, ``run(ctx)`` returning
a :class:`~hwnas.search.result.SearchResult`. Its history (a list of predicted latencies) has a shape the report
does not know. tests/search/test_toy_method.py imports this module in a fixture (importing registers ``toy``) and
unregisters it afterwards.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from hwnas.search.context import SearchContext
from hwnas.search.method import SearchMethod
from hwnas.search.parts.path_sampling import sample_feasible
from hwnas.search.registry import register
from hwnas.search.result import SearchResult, build_result


@dataclass
class ToyConfig:
    """The toy's settings."""

    draws: int = 3  # architectures drawn inside the budgets; the last one is the result

    def __post_init__(self) -> None:
        if self.draws < 1:
            raise ValueError(f"toy draws must be >= 1, got {self.draws}")


@register
class Toy(SearchMethod):
    name = "toy"
    summary = "test only: a seeded random architecture inside the budgets"
    config_class = ToyConfig

    def run(self, ctx: SearchContext) -> SearchResult:
        rng = random.Random(ctx.seed)
        drawn = [sample_feasible(ctx.space, rng, ctx.constraints) for _ in range(ctx.config.draws)]
        history = [None if ctx.latency is None else ctx.latency.predict(ctx.space.to_spec(c)) for c in drawn]
        return build_result(ctx, self.name, drawn[-1], config=asdict(ctx.config), history=history,
                            extra={"draws": len(drawn)})

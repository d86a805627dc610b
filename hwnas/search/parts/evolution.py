"""Evolutionary and random search over a space under hard constraints (pure Python, explicit RNG, no torch).

SPOS (Guo et al. 2019, Sec. 3.3 and Algorithm 1) searches its trained supernet with an evolutionary algorithm:
a population of 50 random architectures, the top 10 by validation accuracy kept each generation, 25 children by
mutation (each decision resampled with probability 0.1) and 25 by uniform crossover of two parents, 20
generations; a child that breaks a constraint is discarded and drawn again, so every evaluated candidate meets
every budget. Random search draws the same number of candidates uniformly from the feasible set: the baseline.

Both strategies are ask/tell: :meth:`ask` returns the candidates to score (so a caller may score them on
several processes at once), :meth:`tell` takes their scores (higher is better). ``state_dict`` /
``load_state_dict`` make a search resumable between generations. A network is never scored twice: the memo key is
the network (:func:`network_key`), not the choice, since choices that differ only in slots past a stage's depth
build the same network.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hwnas.space.base import Choice, SearchSpace

Feasible = Callable[[Mapping[str, Any]], bool]
Sampler = Callable[[random.Random], Choice]
"""Draws a random architecture (default ``space.sample``; under tight budgets a feasible-by-repair sampler)."""


def choice_key(choice: Mapping[str, Any]) -> str:
    """A canonical text form of a choice (every decision, those that do not change the network included)."""
    return json.dumps(dict(sorted(choice.items())), separators=(",", ":"))


def network_key(space: SearchSpace, choice: Mapping[str, Any]) -> str:
    """The memo key: the arch text of the network ``choice`` builds. Two choices that differ only in decisions
    the network does not use (the ops and widths of slots past a stage's depth) get the same key."""
    from hwnas.arch import encode

    return encode(space.to_spec(choice))


@dataclass(frozen=True)
class EvolutionConfig:
    """SPOS defaults (Guo et al. 2019, Sec. 4.1 and the released search code)."""

    population: int = 50  # candidates per generation
    top_k: int = 10  # parents kept each generation
    mutations: int = 25  # children by mutation per generation
    crossovers: int = 25  # children by crossover per generation
    mutation_prob: float = 0.1  # per-decision resampling probability
    generations: int = 20
    max_tries: int = 10_000  # draws allowed per generation to find its random (feasible, unseen) candidates

    def __post_init__(self) -> None:
        for name in ("population", "top_k", "generations", "max_tries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"evolution {name} must be a positive integer, got {value!r}")
        for name in ("mutations", "crossovers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"evolution {name} must be a non-negative integer, got {value!r}")
        if self.top_k > self.population:
            raise ValueError(f"evolution top_k={self.top_k} exceeds population={self.population}")
        if not 0.0 <= self.mutation_prob <= 1.0:
            raise ValueError(f"mutation_prob must be in [0, 1], got {self.mutation_prob}")

    @property
    def budget(self) -> int:
        """Candidates scored over the whole search (at most): what random search gets for a fair comparison."""
        return self.population + (self.generations - 1) * (self.mutations + self.crossovers)


class _Strategy:
    """Shared bookkeeping: the memo of scored candidates, the RNG, the feasible filter."""

    def __init__(self, space: SearchSpace, feasible: Feasible | None, seed: int, max_tries: int,
                 sampler: Sampler | None = None) -> None:
        self.space = space
        self.sampler = sampler or space.sample
        self.feasible = feasible or (lambda choice: True)
        self.rng = random.Random(seed)
        self.max_tries = max_tries
        self.scored: dict[str, tuple[Choice, float]] = {}  # network key -> (choice, score), in scoring order
        self.pending: list[Choice] = []
        self._keys: dict[str, str] = {}  # choice_key -> network_key (building a spec costs ~0.1-0.5 ms)

    def key(self, choice: Mapping[str, Any]) -> str:
        """The memo key of ``choice`` (:func:`network_key`)."""
        raw = choice_key(choice)
        if raw not in self._keys:
            self._keys[raw] = network_key(self.space, choice)
        return self._keys[raw]

    def _collect(self, draw: Callable[[], Choice], count: int, taken: set[str], attempts: int) -> list[Choice]:
        """Up to ``count`` feasible candidates not scored or taken yet, in at most ``attempts`` draws."""
        out: list[Choice] = []
        for _ in range(attempts):
            if len(out) >= count:
                break
            choice = draw()
            key = self.key(choice)
            if key not in self.scored and key not in taken and self.feasible(choice):
                taken.add(key)
                out.append(choice)
        return out

    def tell(self, scores: Sequence[float]) -> None:
        """Scores (higher is better) of the candidates the last :meth:`ask` returned, in the same order."""
        if len(scores) != len(self.pending):
            raise ValueError(f"tell() got {len(scores)} scores for {len(self.pending)} asked candidates")
        for choice, score in zip(self.pending, scores):
            self.scored[self.key(choice)] = (choice, float(score))
        self.pending = []

    def best(self, k: int = 1) -> list[tuple[Choice, float]]:
        """The ``k`` best scored candidates, best first (ties: the earlier scored)."""
        ranked = sorted(enumerate(self.scored.values()), key=lambda item: (-item[1][1], item[0]))
        return [entry for _, entry in ranked[:k]]

    def history(self) -> list[dict[str, Any]]:
        return [{"choice": c, "score": s} for c, s in self.scored.values()]

    def _state(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "scored": [[c, s] for c, s in self.scored.values()],
                "pending": self.pending}

    def _load(self, state: Mapping[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])
        self.scored = {self.key(c): (dict(c), float(s)) for c, s in state["scored"]}
        self.pending = [dict(c) for c in state["pending"]]


class EvolutionSearch(_Strategy):
    """SPOS evolution (see the module docstring); ``done`` after ``config.generations`` generations."""

    def __init__(self, space: SearchSpace, feasible: Feasible | None = None, config: EvolutionConfig | None = None,
                 seed: int = 0, sampler: Sampler | None = None) -> None:
        self.config = config or EvolutionConfig()
        super().__init__(space, feasible, seed, self.config.max_tries, sampler)
        self.generation = 0

    @property
    def done(self) -> bool:
        return self.generation >= self.config.generations and not self.pending

    def ask(self) -> list[Choice]:
        """The next generation's unscored candidates (all feasible); empty when the search is done."""
        if self.pending:
            return list(self.pending)
        if self.generation >= self.config.generations:
            return []
        cfg, taken = self.config, set()
        if self.generation == 0:
            batch = self._collect(lambda: self.sampler(self.rng), cfg.population, taken, cfg.max_tries)
            if not batch:
                raise ValueError(f"no feasible architecture found in {cfg.max_tries} random draws from space "
                                 f"{self.space.name!r}: the budgets leave (almost) nothing; relax them")
        else:
            # SPOS: each operator gets 10x its target in attempts; a converged population then tops up with
            # random feasible candidates, so every generation scores the same number of new ones.
            parents = [c for c, _ in self.best(cfg.top_k)]
            batch = self._collect(lambda: self.space.mutate(self.rng.choice(parents), self.rng, cfg.mutation_prob),
                                  cfg.mutations, taken, 10 * cfg.mutations)
            batch += self._collect(lambda: self.space.crossover(self.rng.choice(parents), self.rng.choice(parents),
                                                                self.rng), cfg.crossovers, taken, 10 * cfg.crossovers)
            batch += self._collect(lambda: self.sampler(self.rng), cfg.mutations + cfg.crossovers - len(batch),
                                   taken, cfg.max_tries)
        self.generation += 1
        self.pending = batch
        return list(batch)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "evolution", "config": asdict(self.config), "generation": self.generation, **self._state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != "evolution" or state.get("config") != asdict(self.config):
            raise ValueError("search state is not from an evolution search with this configuration")
        self.generation = int(state["generation"])
        self._load(state)


class RandomSearch(_Strategy):
    """Uniform sampling of ``total`` distinct feasible candidates, ``batch`` at a time."""

    def __init__(self, space: SearchSpace, feasible: Feasible | None = None, total: int = 1000, batch: int = 50,
                 seed: int = 0, max_tries: int = 10_000, sampler: Sampler | None = None) -> None:
        for name, value in (("total", total), ("batch", batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"random search {name} must be a positive integer, got {value!r}")
        super().__init__(space, feasible, seed, max_tries, sampler)
        self.total, self.batch = total, batch
        self.exhausted = False

    @property
    def done(self) -> bool:
        return (self.exhausted or len(self.scored) >= self.total) and not self.pending

    def ask(self) -> list[Choice]:
        if self.pending:
            return list(self.pending)
        want = min(self.batch, self.total - len(self.scored))
        batch = self._collect(lambda: self.sampler(self.rng), want, set(), self.max_tries)
        if not batch and not self.scored and want > 0:
            raise ValueError(f"no feasible architecture found in {self.max_tries} random draws from space "
                             f"{self.space.name!r}: the budgets leave (almost) nothing; relax them")
        self.exhausted = len(batch) < want  # the feasible set (or the draws) ran out
        self.pending = batch
        return list(batch)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "random", "total": self.total, "batch": self.batch, "exhausted": self.exhausted,
                **self._state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != "random" or (state["total"], state["batch"]) != (self.total, self.batch):
            raise ValueError("search state is not from a random search with these settings")
        self.exhausted = bool(state["exhausted"])
        self._load(state)


def rng_state(rng: random.Random) -> list:
    """A ``random.Random`` state as plain lists (JSON- and ``weights_only``-safe)."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: Sequence) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))

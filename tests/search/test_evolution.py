"""Evolution and random search on a synthetic objective with a known optimum (no torch, no supernet)."""

from __future__ import annotations

import pytest

from hwnas.search.parts.evolution import EvolutionConfig, EvolutionSearch, RandomSearch, choice_key
from hwnas.space import get_space


@pytest.fixture(scope="module")
def space():
    return get_space("fbnet", 28, 1, 10)


def objective(choice) -> float:
    """Known optimum: every op 'k5_e6' (index 8 of 9), every other dimension irrelevant."""
    order = ("skip", "k3_e1_g2", "k5_e1_g2", "k3_e1", "k5_e1", "k3_e3", "k5_e3", "k3_e6", "k5_e6")
    return sum(order.index(v) for k, v in choice.items() if k.endswith("_op"))


def drive(strategy, score=objective) -> None:
    while not strategy.done:
        batch = strategy.ask()
        if not batch:
            break
        strategy.tell([score(c) for c in batch])


def test_evolution_beats_random_search_with_the_same_budget(space):
    cfg = EvolutionConfig(generations=15)
    evo = EvolutionSearch(space, config=cfg, seed=0)
    rnd = RandomSearch(space, total=cfg.budget, batch=cfg.population, seed=0)
    drive(evo)
    drive(rnd)
    best_evo, best_rnd = evo.best(1)[0][1], rnd.best(1)[0][1]
    assert len(evo.scored) <= cfg.budget and len(rnd.scored) == cfg.budget
    assert best_evo > best_rnd + 20  # optimum is 22 * 8 = 176; uniform draws average 88
    assert best_evo >= 0.85 * 176


def test_candidates_are_feasible_and_never_scored_twice(space):
    def feasible(choice):
        return choice["s1_b0_op"] != "k5_e6"

    evo = EvolutionSearch(space, feasible, EvolutionConfig(generations=5, population=20, top_k=5, mutations=10,
                                                           crossovers=10), seed=1)
    drive(evo)
    keys = [choice_key(c) for c, _ in evo.scored.values()]
    assert len(keys) == len(set(keys))
    assert all(c["s1_b0_op"] != "k5_e6" for c, _ in evo.scored.values())


def test_state_dict_resumes_to_the_same_search(space):
    cfg = EvolutionConfig(generations=6, population=10, top_k=3, mutations=5, crossovers=5)
    straight = EvolutionSearch(space, config=cfg, seed=2)
    drive(straight)
    first = EvolutionSearch(space, config=cfg, seed=2)
    for _ in range(3):
        first.tell([objective(c) for c in first.ask()])
    state = first.state_dict()
    resumed = EvolutionSearch(space, config=cfg, seed=99)
    resumed.load_state_dict(state)
    drive(resumed)
    assert resumed.history() == straight.history()


def test_random_state_round_trip_and_tell_checks(space):
    rnd = RandomSearch(space, total=30, batch=10, seed=3)
    rnd.tell([objective(c) for c in rnd.ask()])
    other = RandomSearch(space, total=30, batch=10, seed=0)
    other.load_state_dict(rnd.state_dict())
    assert other.ask() == rnd.ask()
    with pytest.raises(ValueError, match="scores for"):
        rnd.tell([1.0])
    with pytest.raises(ValueError, match="random search"):
        RandomSearch(space, total=31, batch=10).load_state_dict(rnd.state_dict())


def test_impossible_constraints_are_reported(space):
    evo = EvolutionSearch(space, lambda c: False, EvolutionConfig(max_tries=50), seed=0)
    with pytest.raises(ValueError, match="no feasible architecture"):
        evo.ask()
    with pytest.raises(ValueError, match="top_k"):
        EvolutionConfig(population=5, top_k=10)


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_no_network_is_scored_twice_in_a_space_with_depth(strategy):
    """Choices that differ only in the slots past a stage's depth are one network: scored once (the tiny space,
    two stages of depth 1-2, has many such twins)."""
    from hwnas.arch import encode
    from tests.search.conftest import TINY_YAML

    tiny = get_space(TINY_YAML, 28, 1, 10)
    if strategy == "evolution":
        search = EvolutionSearch(tiny, config=EvolutionConfig(generations=8, population=30, top_k=5, mutations=15,
                                                              crossovers=15), seed=0)
    else:
        search = RandomSearch(tiny, total=300, batch=50, seed=0)
    drive(search, lambda c: sum(len(str(v)) for v in c.values()))  # any deterministic score
    networks = [encode(tiny.to_spec(c)) for c, _ in search.scored.values()]
    assert len(networks) > 100
    assert len(networks) == len(set(networks))

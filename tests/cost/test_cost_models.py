"""MACs, params and peak-memory cost models: exact costs, expected costs per slot candidate, constraints."""

import random

import pytest
import torch

from hwnas.cost import count_macs, count_params, peak_activation_bytes
from hwnas.cost.latency.build import build_space_table
from hwnas.cost.models import AnalyticCost, Constraint, CostModel, macs_cost, params_cost, peak_memory_cost
from hwnas.space import get_space

from .test_lut import one_hot
from .tiny import FakeBackend, tiny_space

SPACES = {"tiny": tiny_space, "tiny_exp": lambda: tiny_space(se_mode="exp"),
          "fbnet32": lambda: get_space("fbnet", 32, num_classes=10), "tfnas32": lambda: get_space("tfnas", 32),
          "spos32": lambda: get_space("spos", 32, in_channels=1)}


def reference(metric, space, spec):
    g = space.geometry
    if metric == "macs":
        return count_macs(spec, g.input_size, g.num_classes, g.in_channels)
    if metric == "params":
        return count_params(spec, g.num_classes, g.in_channels)
    return peak_activation_bytes(spec, g.input_size, g.in_channels, num_classes=g.num_classes)


@pytest.mark.parametrize("metric", ["macs", "params", "peak_bytes"])
@pytest.mark.parametrize("name", list(SPACES))
def test_cost_and_one_hot_expectation_match_the_counters(metric, name):
    space, rng = SPACES[name](), random.Random(0)
    model = AnalyticCost.for_space(metric, space)
    for _ in range(3):
        choice = space.sample(rng)
        spec = space.to_spec(choice)
        assert model.cost(spec) == reference(metric, space, spec)
        assert float(model.expected(space, *one_hot(space, choice))) == pytest.approx(model.cost(spec), rel=1e-12)


def test_expected_macs_is_linear_in_the_probabilities():
    space = tiny_space()
    model = macs_cost(input_size=16, num_classes=10)
    base = space.heaviest()
    a, b = base | {"s0_b0_op": "skip"}, base | {"s0_b0_op": "k3"}
    ops, depth, widths = one_hot(space, a)
    ops["s0_b0_op"] = torch.tensor([0.3, 0.7, 0.0], dtype=torch.float64)
    mixed = float(model.expected(space, ops, depth, widths))
    assert mixed == pytest.approx(0.3 * model.cost(space.to_spec(a)) + 0.7 * model.cost(space.to_spec(b)))


def test_expected_costs_are_differentiable():
    space = tiny_space()
    logits = {s.op_label: torch.randn(len(s.candidates), requires_grad=True) for s in space.slots()}
    for model in (params_cost(input_size=16, num_classes=10), peak_memory_cost(input_size=16, num_classes=10)):
        model.expected(space, {k: v.softmax(0) for k, v in logits.items()}).backward()
    assert any(v.grad is not None and v.grad.abs().sum() > 0 for v in logits.values())


def test_geometry_mismatch_is_an_error():
    with pytest.raises(ValueError, match="input_size=224.*input_size=16"):
        macs_cost().expected(tiny_space(), one_hot(tiny_space(), tiny_space().heaviest())[0])
    with pytest.raises(ValueError, match="unknown analytic cost"):
        AnalyticCost("flops")


def test_constraints_on_any_cost(tmp_path):
    space = tiny_space()
    light, heavy = space.to_spec({d.label: d.values[0] for d in space.dims()}), space.to_spec(space.heaviest())
    table = build_space_table(space, tmp_path / "lut.json", backend=FakeBackend(), width_grid=3, warmup=0, rounds=1,
                              progress=False).table
    for model in (table, macs_cost(input_size=16, num_classes=10), params_cost(num_classes=10)):
        assert isinstance(model, CostModel)
        limit = (model.cost(light) + model.cost(heavy)) / 2
        c = Constraint(model, limit)
        assert c.satisfied(light) and not c.satisfied(heavy)
        assert c.margin(light) == pytest.approx(limit - model.cost(light))
        assert model.units in str(c) and model.name in str(c)
    assert str(Constraint(table, 25)).startswith("latency <= 25 ms [latency (fake")
    with pytest.raises(ValueError, match="positive finite"):
        Constraint(table, 0)
    with pytest.raises(ValueError, match="not a cost model"):
        Constraint(object(), 1)

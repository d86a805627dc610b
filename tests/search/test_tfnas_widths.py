"""TF-NAS gives every operation of a block its own mid width (Hu et al. 2020, Sec. 3.3; its channel masks): an
e3 op starts at 3 x in (largest 4 x in), an e6 op at 6 x in (largest 8 x in), so during the search the e3 and e6
candidates of a slot are different networks, in cost and in the supernet's forward."""

from __future__ import annotations

import pytest
import torch

from hwnas.cost import count_macs
from hwnas.cost.models import AnalyticCost
from hwnas.cost.separable import SeparableCost
from hwnas.search.methods.tfnas import TFNASConfig
from hwnas.search.parts.engine import build_supernet
from hwnas.search.parts.objectives import LinearCost
from hwnas.search.parts.width_scaling import chosen_widths, op_widths, with_chosen_widths
from hwnas.space import get_space


@pytest.fixture(scope="module")
def space():
    return get_space("tfnas", 28, 1, 10)


def test_every_op_starts_at_its_nominal_width_and_costs_differ(space):
    widths = op_widths(space)
    slot = space.slots()[1]  # s0_b1
    names = list(slot.candidates)
    per_op = dict(zip(names, widths[slot.width_label]))
    assert per_op["k3_e3"] == 3 * slot.in_ch and per_op["k3_e6"] == 6 * slot.in_ch
    assert slot.candidates["k3_e3"].mid == 4 * slot.in_ch and slot.candidates["k3_e6"].mid == 8 * slot.in_ch
    macs = LinearCost(SeparableCost(AnalyticCost.for_space("macs", space), space), widths)
    terms = dict(zip(names, getattr(macs, f"t_{slot.label}").tolist()))
    assert terms["k3_e6"] > 1.8 * terms["k3_e3"]  # twice the mid width: about twice the MACs
    # the networks the argmax gives: each op at its own width
    choice = space.heaviest()
    e3, e6 = ({**choice, slot.op_label: op} for op in ("k3_e3", "k3_e6"))
    e3.update(chosen_widths(space, widths, e3))
    e6.update(chosen_widths(space, widths, e6))
    assert count_macs(space.to_spec(e3), 28, 10, 1) < count_macs(space.to_spec(e6), 28, 10, 1)


def test_a_width_above_an_ops_largest_is_its_largest(space):
    slot = space.slots()[1]
    choice = {**space.heaviest(), slot.op_label: "k3_e3", slot.width_label: 8 * slot.in_ch}
    assert space.block_for(slot, choice).mid == 4 * slot.in_ch


def test_scaling_moves_the_chosen_op_only(space):
    widths = op_widths(space)
    slot = space.slots()[1]
    choice = {**space.heaviest(), slot.op_label: "k5_e6"}
    moved = with_chosen_widths(space, widths, {**choice, slot.width_label: 5 * slot.in_ch})
    names = list(slot.candidates)
    for name, before, after in zip(names, widths[slot.width_label], moved[slot.width_label]):
        assert after == (5 * slot.in_ch if name == "k5_e6" else before)


def test_entangled_supernet_runs_e3_and_e6_at_their_own_widths(space):
    """e3 and e6 share weights (Once-for-All entanglement): at one shared width they would be the same function;
    at their own widths the forward differs."""
    torch.manual_seed(0)
    supernet = build_supernet(space, TFNASConfig(sharing="entangled")).eval()
    slot = space.slots()[1]
    names = list(slot.candidates)
    base = {s.op_label: [list(s.candidates).index("k3_e3")] for s in space.slots()}
    x = torch.randn(2, 1, 28, 28)

    def run(op: str, widths) -> torch.Tensor:
        with torch.no_grad():
            return supernet.forward_paths(x, {**base, slot.op_label: [names.index(op)]}, None, None, widths)

    own = op_widths(space)
    assert not torch.allclose(run("k3_e3", own), run("k3_e6", own))
    shared = {k: v[-1] for k, v in own.items()}  # the old rule: one width (6 x in) for every op of a slot
    shared[slot.width_label] = 3 * slot.in_ch
    assert torch.allclose(run("k3_e3", shared), run("k3_e6", shared))

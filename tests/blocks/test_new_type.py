"""A new block type is one BlockType plus one registration: the codec, the builder, the counts, the latency table
key and the spaces take it with no other edit (hwnas/blocks/registry.py)."""

import pytest
import torch

from hwnas.arch import decode, encode, resolve_layers
from hwnas.blocks.conv import ConvType
from hwnas.blocks.registry import BLOCKS, block_type, create_block, register, unregister
from hwnas.cost import count_macs, count_params, count_with_hooks
from hwnas.cost.lut_keys import spec_ops
from hwnas.nn import build_model

NET = "act=re se=in | stem_k3_s2_c8 | tcn_r1_k3_s2_c16_nhs | head"


class TwinConvType(ConvType):
    """A renamed ``cn``: its own grammar name, the same module, counts and key form."""

    name = "tcn"


@pytest.fixture
def twin():
    kind = register(TwinConvType())
    try:
        yield kind
    finally:
        unregister("tcn")


def test_unregistered_type_is_refused():
    with pytest.raises(ValueError, match="unknown block type 'tcn'"):
        decode(NET)


def test_registered_type_reads_builds_counts_and_keys(twin):
    spec = decode(NET)
    assert encode(spec) == NET
    (layer,) = resolve_layers(spec)
    assert block_type("tcn") is twin and layer.type == "tcn"
    assert type(create_block(layer)) is BLOCKS["tcn"]
    model = build_model(spec, 10)
    measured = count_with_hooks(model, 16)
    assert (measured["params"], measured["macs"]) == (count_params(spec, 10), count_macs(spec, 16, 10))
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 10)
    assert spec_ops(spec, 16, 3, 10)[1].text == "tcn_r1_k3_s2_c16_nhs"


def test_unregister_forgets_the_type(twin):
    unregister("tcn")
    assert "tcn" not in BLOCKS
    with pytest.raises(ValueError, match="unknown block type 'tcn'"):
        decode(NET)

"""build_model over input sizes, channels and classes; channel_shuffle; trace-clean export of group-conv nets."""

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hwnas import zoo
from hwnas.arch import decode, encode, feature_sizes, for_input_size, resolve_layers, total_stride
from hwnas.nn import ChannelShuffle, HwnasNet, build_model, channel_shuffle

SMALL = ("act=re se=in | stem_k3_s2_c8 | ds_r1_k3_s1_e1_c8 | ir_r1_k3_s2_e3_c16 ir_r1_k5_s1_e1_c16_g2 | "
         "ir_r1_k3_s2_e4_c24_se0.25 skip_s1_c24 | cn_r1_k1_s1_c32 | head_c40_nhs_d0.1")
SHUFFLE = ("act=re se=in | stem_k3_s2_c8 | shuffle_r1_k3_s2_c16_w1 shuffle_r1_k5_s1_c16_w1 | "
           "xception_r1_k3_s2_c32_w0.5 | cn_r1_k1_s1_c32 | head_nobias")


@pytest.mark.parametrize("size", [28, 32, 64, 224])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_small_net_any_input_size(size, in_channels):
    spec = decode(SMALL)
    model = build_model(spec, num_classes=7, in_channels=in_channels).eval()
    x = torch.randn(1, in_channels, size, size)
    with torch.no_grad():
        feats = model.forward_features(x)
        logits = model(x)
    side = feature_sizes(spec, size)[1][-1][1]
    assert side == math.ceil(size / total_stride(spec))
    assert feats.shape == (1, 32, side, side)
    assert logits.shape == (1, 7) and torch.isfinite(logits).all()


@pytest.mark.parametrize("text, size", [(SHUFFLE, 20), (SMALL, 17), (SHUFFLE, 3)])
@pytest.mark.parametrize("num_classes", [1, 2, 10])
def test_other_nets_small_sizes_and_class_counts(text, size, num_classes):
    model = build_model(decode(text), num_classes=num_classes, in_channels=1).train()
    out = model(torch.randn(2, 1, size, size))
    assert out.shape == (2, num_classes)
    out.logsumexp(1).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["fbnet_a", "spos_official"])
def test_zoo_net_grayscale_28px(name):
    spec = for_input_size(zoo.get(name).spec, 28)
    model = build_model(spec, num_classes=10, in_channels=1).eval()
    assert model.stem.conv.in_channels == 1
    with torch.no_grad():
        assert model(torch.randn(1, 1, 28, 28)).shape == (1, 10)


def test_model_keeps_spec_and_matches_resolved_layers():
    spec = decode(SMALL)
    model = build_model(spec, num_classes=5, in_channels=1)
    assert isinstance(model, HwnasNet) and model.spec is spec and encode(model.spec) == SMALL
    assert (model.num_classes, model.in_channels) == (5, 1)
    layers = resolve_layers(spec)
    assert len(model.blocks) == len(layers)
    assert model.head.fc.out_features == 5 and model.head.num_features == 40
    assert isinstance(model.head.conv, nn.Conv2d) and model.head.conv.bias is not None
    assert model.head.fc.in_features == 40 and model.head.dropout.p == pytest.approx(0.1)
    assert build_model(decode(SHUFFLE), 3).head.fc.bias is None  # head_nobias


def test_init_weights_uses_group_aware_fan_out():
    model = build_model(decode(SMALL), num_classes=5)
    dw = model.blocks[0].conv_dw.conv  # 8 channels, 3x3 depthwise: fan_out = 9 * 8 / 8 = 9
    assert dw.weight.std().item() == pytest.approx((2 / 9) ** 0.5, rel=0.5)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(bool((m.weight == 1).all() and (m.bias == 0).all()) for m in bns)
    assert not model.head.fc.bias.any() and model.head.fc.weight.std().item() < 0.02


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "10", None])
def test_bad_num_classes_raise(bad):
    with pytest.raises(ValueError, match="num_classes"):
        build_model(decode(SMALL), num_classes=bad)


@pytest.mark.parametrize("bad", [0, -1, 3.0, False, "3"])
def test_bad_in_channels_raise(bad):
    with pytest.raises(ValueError, match="in_channels"):
        build_model(decode(SMALL), in_channels=bad)


def test_text_instead_of_spec_raises():
    with pytest.raises(ValueError, match="ArchSpec"):
        build_model(SMALL)


# ---------------------------------------------------------------------------------------------------------- shuffle
def test_channel_shuffle_by_hand():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    # groups=2: channel grid [[0, 1, 2], [3, 4, 5]] transposed -> 0 3 1 4 2 5
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    # groups=3: [[0, 1], [2, 3], [4, 5]] transposed -> 0 2 4 1 3 5
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    assert torch.equal(channel_shuffle(x, 1), x) and torch.equal(channel_shuffle(x, 6), x)


def test_channel_shuffle_moves_whole_feature_maps():
    x = torch.randn(2, 4, 3, 5)
    y = ChannelShuffle(2)(x)
    for src, dst in enumerate([0, 2, 1, 3]):
        assert torch.equal(y[:, dst], x[:, src])


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_channel_shuffle_keeps_a_channels_last_batch_channels_last(groups):
    """channels_last training (hwnas.train.layout): same values, and the next conv gets NHWC without a reorder."""
    x = torch.randn(2, 6, 3, 5)
    y = channel_shuffle(x.contiguous(memory_format=torch.channels_last), groups)
    assert torch.equal(y, channel_shuffle(x, groups))
    assert y.stride() == (3 * 5 * 6, 1, 5 * 6, 6)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3), st.integers(1, 4))
def test_channel_shuffle_inverse_and_index_rule(groups, per_group, batch, side):
    channels = groups * per_group
    x = torch.randn(batch, channels, side, side)
    y = channel_shuffle(x, groups)
    assert torch.equal(channel_shuffle(y, per_group), x)  # transposing the grid back undoes it
    for g in range(groups):
        for i in range(per_group):
            assert torch.equal(y[:, i * groups + g], x[:, g * per_group + i])


@pytest.mark.parametrize("groups,per_group", [(2, 3), (3, 2), (4, 4)])
def test_an_exported_shuffle_is_one_gather_of_constant_channels(tmp_path, groups, per_group):
    """With a symbolic batch axis (the deployment export), the reshape route would compute its targets at run time;
    the module exports a Gather of fixed channel indices instead, with the same values for any batch size."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    from hwnas.nn.deploy import deployed_onnx
    from hwnas.nn.layers import shuffle_order

    channels = groups * per_group
    ramp = torch.arange(float(channels)).view(1, channels, 1, 1)
    assert torch.equal(ramp[:, shuffle_order(channels, groups)], channel_shuffle(ramp, groups))
    path = tmp_path / "shuffle.onnx"
    deployed_onnx(ChannelShuffle(groups, channels).eval(), path, (1, channels, 3, 5))
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "Gather" in ops and not {"Shape", "Reshape", "Transpose", "Concat"} & set(ops), ops
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, channels, 3, 5)
        (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
        np.testing.assert_array_equal(y, channel_shuffle(x, groups).numpy())
    # Not in the checkpoint: the order follows from groups and channels.
    assert "order" not in ChannelShuffle(groups, channels).state_dict()


def test_channel_shuffle_rejects_indivisible_channels():
    with pytest.raises(ValueError, match="divisible"):
        channel_shuffle(torch.zeros(1, 5, 2, 2), 2)
    with pytest.raises(ValueError, match="divisible"):
        ChannelShuffle(2, channels=5)
    for bad in (0, -2, True):
        with pytest.raises(ValueError, match="groups"):
            ChannelShuffle(bad)


def test_trace_of_group_conv_and_shuffle_nets_is_warning_free_and_exact():
    model = build_model(decode(SMALL.replace("head_c40_nhs_d0.1", "head")), num_classes=4).eval()
    shuffle_net = build_model(decode(SHUFFLE), num_classes=4).eval()
    for net in (model, shuffle_net):
        with warnings.catch_warnings(record=True) as caught, torch.no_grad():
            warnings.simplefilter("always")
            traced = torch.jit.trace(net, torch.randn(1, 3, 32, 32))
        tracer = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
        assert not tracer, tracer
        x = torch.randn(3, 3, 32, 32)  # another batch size: the traced reshape must not have baked in batch 1
        with torch.no_grad():
            assert torch.allclose(traced(x), net(x), atol=1e-5)

"""channels_last (hwnas.train.layout): training and evaluation on the CPU give what NCHW gives, up to float rounding,
and the switch (TrainConfig.channels_last, hwnas train --[no-]channels-last) is honoured."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from _train_testlib import SyntheticSource

from hwnas.arch import decode
from hwnas.nn import build_model
from hwnas.train import TrainConfig, evaluate, train
from hwnas.train.layout import model_to_layout, to_layout, use_channels_last

# Every layer kind whose layout matters: a full 3x3 stem, 1x1 and grouped 1x1 convs, channel shuffle, depthwise
# 3x3/5x5 with stride, squeeze-excite, a residual, the head.
ARCH = "act=re se=in | stem_k3_s1_c8 | ir_r1_k3_s2_e3_c16_se0.25 ir_r1_k5_s1_e1_c16_g2 | cn_r1_k1_s1_c32 | head"
CL = torch.channels_last


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(decode(ARCH), 4, 3)  # 3 input channels: a 1-channel batch is NHWC and NCHW at once


def _source(n: int, seed: int = 0) -> SyntheticSource:
    return SyntheticSource(n, batch_size=16, channels=3, size=12, seed=seed, template_seed=0)


def _cfg(**kw) -> TrainConfig:
    base = dict(epochs=1, lr=0.05, progress=False, tensorboard=False, log_every_steps=0)
    return TrainConfig(**{**base, **kw})


def _is_nhwc(t: torch.Tensor) -> bool:
    """Exact NHWC strides (``is_contiguous(memory_format=...)`` cannot tell for 1x1 or one-channel tensors)."""
    _, c, h, w = t.shape
    return t.stride() == (h * w * c, 1, w * c, c)


def test_default_is_on_for_the_cpu_only_and_a_setting_wins() -> None:
    assert TrainConfig().channels_last is None
    assert use_channels_last(None, "cpu") and not use_channels_last(None, torch.device("cuda"))
    assert not use_channels_last(False, "cpu") and use_channels_last(True, "cuda")
    with pytest.raises(ValueError, match="channels_last must be a bool"):
        TrainConfig(channels_last="yes")


def test_only_image_batches_change_layout() -> None:
    x = torch.randn(2, 3, 4, 5)
    assert _is_nhwc(to_layout(x, True)) and to_layout(x, False) is x
    flat = torch.randn(2, 7)
    assert to_layout(flat, True) is flat  # a non-image input (a linear model's) is left alone


def test_model_to_layout_converts_ambiguous_kernels_once_and_keeps_the_parameters() -> None:
    net = _net()
    ids = [id(p) for p in net.parameters()]
    assert not _is_nhwc(net.blocks[0].conv_pw.conv.weight)  # 1x1: "contiguous" in both formats, NCHW strides
    assert model_to_layout(net, True) is net
    assert [id(p) for p in net.parameters()] == ids  # an optimizer built before still holds them
    assert all(_is_nhwc(p) for p in net.parameters() if p.dim() == 4)
    model_to_layout(net, True)  # converted already: a no-op
    plain = _net()
    model_to_layout(plain, False)
    assert not _is_nhwc(plain.stem.conv.weight)


def test_training_in_channels_last_matches_nchw_and_the_switch_is_honoured(tmp_path: Path) -> None:
    seen: dict[bool, set[bool]] = {}
    results = {}
    for flag in (False, True):
        net = _net()
        net.register_forward_pre_hook(lambda m, args, flag=flag: seen.setdefault(flag, set()).add(_is_nhwc(args[0])))
        metrics = train(net, _source(4), _source(2, seed=1), _cfg(channels_last=flag), tmp_path / str(flag),
                        device="cpu")
        assert all(_is_nhwc(p) == flag for p in net.parameters() if p.dim() == 4)
        results[flag] = (net.state_dict(), metrics)
    assert seen == {False: {False}, True: {True}}  # every batch, training and evaluation, in the asked layout
    (nchw, m0), (nhwc, m1) = results[False], results[True]
    for key in nchw:
        assert torch.allclose(nchw[key].float(), nhwc[key].float(), rtol=1e-4, atol=1e-5), key
    assert m1["loss"] == pytest.approx(m0["loss"], rel=1e-4)
    assert m1["top1"] == m0["top1"] and m1["steps"] == m0["steps"] == 4


def test_the_cpu_default_trains_in_channels_last(tmp_path: Path) -> None:
    net = _net()
    train(net, _source(2), _source(1, seed=1), _cfg(), tmp_path, device="cpu")
    assert _is_nhwc(net.stem.conv.weight)


def test_evaluation_in_channels_last_matches_nchw() -> None:
    net = _net()
    for _ in range(2):  # a few batches through BN in train mode, so the running statistics are not trivial
        net(torch.randn(16, 3, 12, 12))
    plain = evaluate(net, _source(3), "cpu", channels_last=False)
    nhwc = evaluate(model_to_layout(net, True), _source(3), "cpu", channels_last=True)
    assert nhwc["top1"] == plain["top1"] and nhwc["n"] == plain["n"]
    assert nhwc["loss"] == pytest.approx(plain["loss"], rel=1e-5)


class _Killed(SyntheticSource):
    """Dies at the second batch of the second epoch, as a killed run would (its last checkpoint: epoch 1)."""

    def epoch_batches(self, epoch: int, start: int = 0):
        for index in range(start, self.n_batches):
            if (epoch, index) == (1, 1):
                raise KeyboardInterrupt
            yield self.batch(epoch, index)


def test_a_run_resumes_under_the_other_layout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A run started before channels_last became the CPU default continues under it (float rounding only)."""
    cfg = _cfg(epochs=2, channels_last=False)
    reference = train(_net(), _source(3), _source(1, seed=1), cfg, tmp_path / "ref", device="cpu")
    with pytest.raises(KeyboardInterrupt):
        killed = _Killed(3, batch_size=16, channels=3, size=12, seed=0, template_seed=0)
        train(_net(), killed, _source(1, seed=1), cfg, tmp_path / "run", device="cpu")
    with caplog.at_level(logging.INFO, logger="hwnas.train.loop"):
        resumed = train(_net(), _source(3), _source(1, seed=1), _cfg(epochs=2, channels_last=True),
                        tmp_path / "run", device="cpu", resume=True)
    assert any("resumed from" in r.message and "step 3" in r.message for r in caplog.records)
    assert resumed["steps"] == reference["steps"] == 6
    assert resumed["loss"] == pytest.approx(reference["loss"], rel=1e-4)


def test_cli_flag_reaches_the_config() -> None:
    from hwnas.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["train", "fbnet_a"]).channels_last is None
    assert parser.parse_args(["train", "fbnet_a", "--no-channels-last"]).channels_last is False
    assert parser.parse_args(["train", "fbnet_a", "--channels-last"]).channels_last is True
    assert parser.parse_args(["search", "--method", "spos", "--no-channels-last"]).channels_last is False


def test_a_trained_strided_pointwise_conv_gives_the_numbers_of_the_plain_one():
    """hwnas.nn.layers.conv2d runs a strided 1x1 conv with autograd as subsample + stride 1: the same outputs and
    gradients as F.conv2d; without autograd (inference, export) it is F.conv2d itself."""
    import torch.nn.functional as F

    from hwnas.nn.layers import conv2d

    torch.manual_seed(0)
    w = torch.randn(16, 8, 1, 1, requires_grad=True)
    for size in (28, 7):  # even and odd sizes keep the same output size
        x = torch.randn(5, 8, size, size, requires_grad=True)
        ours, plain = conv2d(x, w, None, (2, 2), (0, 0), (1, 1), 1), F.conv2d(x, w, None, 2)
        assert torch.equal(ours, plain)
        g_ours = torch.autograd.grad(ours.square().sum(), (x, w))
        g_plain = torch.autograd.grad(plain.square().sum(), (x, w))
        for a, b in zip(g_ours, g_plain):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        assert torch.equal(conv2d(x, w, None, 2, 0, 1, 1), F.conv2d(x, w, None, 2))


CRASH = """
import torch
from hwnas.nn.layers import ConvBnAct
from hwnas.train.layout import model_to_layout, to_layout
torch.set_num_threads(2)  # the crash needs torch's parallel kernel: one thread never showed it
conv = model_to_layout(ConvBnAct(8, 16, 1, 2), True)
x = torch.randn(81, 8, 28, 28)
for _ in range(5):
    conv(to_layout(x, True)).sum().backward()
print("survived", x.shape[0])
"""


def test_the_odd_batch_that_crashes_torch_in_channels_last_is_trained():
    """torch 2.13 aborts the process on the backward of a strided 1x1 convolution with 8 input channels in
    channels_last for an odd batch of 81 rows with 2 threads; hwnas's conv layer (hwnas.nn.layers.conv2d) trains
    it. In a subprocess, so that a regression fails this test instead of killing the test run."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True, timeout=120, cwd=root)
    assert done.returncode == 0 and "survived 81" in done.stdout, (done.returncode, done.stderr[-500:])


PER_SAMPLE_CRASH = """
import torch, torch.nn.functional as F
from hwnas.space import get_space
from hwnas.space.labels import is_op_label
from hwnas.supernet import Supernet
from hwnas.train.layout import model_to_layout, to_layout
torch.set_num_threads(2)  # the crash needs torch's parallel kernel: one thread never showed it
torch.manual_seed(0)
space = get_space("fbnet", 28, 1, 10, 0.5)
net = model_to_layout(Supernet(space), True)
lightest = space.lightest()  # skip where a slot has it: s1_b0's is a strided 1x1 projection of 8 channels
ops = {d.label: F.one_hot(torch.full((3,), d.values.index(lightest[d.label])), len(d.values)).float()
       for d in space.dims() if is_op_label(d.label)}
for step in range(5):  # every sample on the same candidate: pieces of 3 rows
    net.forward_per_sample(to_layout(torch.randn(3, 1, 28, 28), True), ops, None, hard=True).sum().backward()
print("survived")
"""


def test_a_per_sample_forward_with_odd_pieces_survives_channels_last():
    """HardCoRe-NAS's multipath step splits a batch by candidate into pieces of random size; an odd piece through
    the FBNet space's strided 1x1 skip projection aborted the process (``double free or corruption``) before
    :func:`hwnas.nn.layers.conv2d`. In a subprocess, so that a regression fails this test only."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", PER_SAMPLE_CRASH], capture_output=True, text=True, timeout=300,
                          cwd=root)
    assert done.returncode == 0 and "survived" in done.stdout, (done.returncode, done.stderr[-500:])

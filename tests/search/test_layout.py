"""channels_last in the search (hwnas.train.layout through hwnas.search.parts.engine): supernet steps, sliced
(elastic and entangled) forwards and candidate scoring give what NCHW gives, up to float rounding, and the
switch (SearchContext.channels_last, search(channels_last=...), hwnas search --[no-]channels-last) is honoured."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from hwnas.search import Budgets, search
from hwnas.search.context import SearchContext
from hwnas.search.parts.engine import WeightTrainer, run_epoch, score_choice
from hwnas.supernet import Supernet

from .conftest import TINY_YAML
from .test_methods import SMALL


def _is_nhwc(t: torch.Tensor) -> bool:
    _, c, h, w = t.shape
    return t.stride() == (h * w * c, 1, w * c, c)


class _Source:
    """Fixed random 3-channel batches (a 1-channel batch is NHWC and NCHW at once, so it would prove nothing)."""

    def __init__(self, n: int, batch: int = 8, size: int = 28, channels: int = 3) -> None:
        g = torch.Generator().manual_seed(n)
        self.items = [(torch.randn(batch, channels, size, size, generator=g), torch.randint(0, 10, (batch,),
                       generator=g)) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def epoch_batches(self, epoch: int, start: int = 0):
        yield from self.items[start:]


def _supernet(space, sharing: str = "independent") -> Supernet:
    torch.manual_seed(0)
    return Supernet(space, sharing=sharing).train()


def _train_paths(space, sharing: str, channels_last: bool | None) -> Supernet:
    """Four single-path steps on narrowed elastic widths, as SPOS trains (same paths for every call)."""
    net = _supernet(space, sharing)
    trainer = WeightTrainer(net, 4, lr=0.1, channels_last=channels_last)
    rng = random.Random(3)
    source = _Source(4, channels=1)

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        net.set_active(space.sample(rng))
        return trainer.update(lambda: F.cross_entropy(net(x), y))

    run_epoch(source, 0, step, "test", False, torch.device("cpu"), channels_last=channels_last)
    assert trainer.channels_last is (channels_last is not False)  # None: the CPU default, on
    return net


@pytest.mark.parametrize("sharing", ["independent", "entangled"])
def test_supernet_steps_match_nchw_on_sliced_weights(search_space, sharing):
    nchw, nhwc = _train_paths(search_space, sharing, False), _train_paths(search_space, sharing, None)
    assert not _is_nhwc(nchw.stem.conv.weight) and _is_nhwc(nhwc.stem.conv.weight)
    for (key, a), b in zip(nchw.state_dict().items(), nhwc.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), rtol=1e-4, atol=1e-5), key


def test_run_epoch_hands_batches_in_the_asked_layout():
    seen = []
    for flag in (None, False, True):
        run_epoch(_Source(2), 0, lambda x, y: seen.append((flag, _is_nhwc(x))) or 0.0, "t", False,
                  torch.device("cpu"), channels_last=flag)
    assert seen == [(None, True), (None, True), (False, False), (False, False), (True, True), (True, True)]


def test_scoring_a_candidate_matches_nchw_and_converts_a_loaded_supernet(search_space):
    choice = search_space.sample(random.Random(1))
    calibration, val = _Source(2, channels=1).items, _Source(3, channels=1)
    scores = {}
    for flag in (False, True):
        net = _supernet(search_space)  # contiguous, as a supernet loaded from disk is
        scores[flag] = score_choice(net, choice, calibration, val, torch.device("cpu"), channels_last=flag)
        assert _is_nhwc(net.stem.conv.weight) is flag
    assert scores[True] == scores[False]


def test_context_resolves_the_setting_by_device(search_space, tmp_path):
    ctx = SearchContext(search_space, None, [], None, tmp_path)
    assert ctx.channels_last is None and ctx.use_channels_last  # the CPU default
    assert not SearchContext(search_space, None, [], None, tmp_path, channels_last=False).use_channels_last
    assert not SearchContext(search_space, None, [], None, tmp_path, device=torch.device("cuda")).use_channels_last


@pytest.mark.parametrize("method", ["fbnet", "hardcore", "spos"])
def test_a_search_runs_in_either_layout_to_the_same_losses(tmp_path, fake_lut, fashion_dir, method):
    """The layout changes float rounding only: the first epoch's supernet loss agrees to 1e-4; a saved supernet
    keeps the layout it trained in (the switch reached the training)."""
    results = {}
    for flag in (False, True):
        results[flag] = search(method, TINY_YAML, "fashion-mnist", out=tmp_path / str(flag), lut=fake_lut,
                               budgets=Budgets(max_latency_ms=1e3), batch_size=32, data_dir=str(fashion_dir),
                               overrides={**SMALL[method], "steps_per_epoch": 2}, progress=False,
                               tensorboard=False, channels_last=flag)
    # fbnet's history is its epochs; a one-shot method's holds them under "supernet".
    first = {flag: (r.history if isinstance(r.history, list) else r.history["supernet"])[0]
             for flag, r in results.items()}
    key = "loss" if "loss" in first[False] else "weight_loss"
    assert first[True][key] == pytest.approx(first[False][key], rel=1e-4)
    if method != "fbnet":  # the one-shot methods save their supernet
        for flag in (False, True):
            weights = torch.load(tmp_path / str(flag) / "supernet.pt", weights_only=True)
            assert _is_nhwc(weights["stem.conv.weight"]) is flag

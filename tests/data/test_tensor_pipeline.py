"""TensorLoader: determinism, exact resume, crop/flip correctness, normalisation, coverage."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwnas.data import AugmentConfig, BatchSource, TensorLoader, crop_flip, normalize, random_crop_flip
from hwnas.data.sampling import make_generator


def _data(n: int = 50, c: int = 1, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, c, size, size), generator=gen, dtype=torch.uint8)
    return images, torch.arange(n)


def _loader(**kwargs) -> TensorLoader:
    images, labels = _data()
    opts = dict(shuffle=True, augment=AugmentConfig(padding=2), mean=0.5, std=0.25, seed=7)
    opts.update(kwargs)
    return TensorLoader(images, labels, 8, **opts)


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))


def test_is_a_batch_source():
    assert isinstance(_loader(), BatchSource)


def test_deterministic_for_a_seed_and_varies_with_seed_and_epoch():
    a, b = list(_loader().epoch_batches(0)), list(_loader().epoch_batches(0))
    assert _same(a, b)
    assert not _same(a, list(_loader(seed=8).epoch_batches(0)))
    assert not _same(a, list(_loader().epoch_batches(1)))


@pytest.mark.parametrize("epoch", [0, 3])
@pytest.mark.parametrize("drop_last", [False, True])
def test_resume_at_batch_gives_identical_batches(epoch, drop_last):
    loader = _loader(drop_last=drop_last)
    full = list(loader.epoch_batches(epoch))
    for start in range(len(loader) + 1):
        assert _same(list(loader.epoch_batches(epoch, start=start)), full[start:])


def test_resume_does_not_depend_on_what_ran_before():
    loader = _loader()
    full = list(loader.epoch_batches(2))
    list(loader.epoch_batches(0))  # other work in between must not shift any stream
    assert _same(list(_loader().epoch_batches(2, start=4)), full[4:])


def test_bad_start_fails_at_call_time():
    loader = _loader()
    with pytest.raises(ValueError, match="start"):
        loader.epoch_batches(0, start=len(loader) + 1)
    with pytest.raises(ValueError, match="epoch"):
        loader.epoch_batches(-1)


def test_global_rng_untouched():
    state = torch.get_rng_state()
    list(_loader().epoch_batches(0))
    assert torch.equal(state, torch.get_rng_state())


def test_covers_dataset_once_per_epoch_when_shuffling():
    loader = _loader(augment=False)
    labels = torch.cat([y for _, y in loader.epoch_batches(0)])
    assert sorted(labels.tolist()) == list(range(50))
    assert labels.tolist() != list(range(50))
    assert [len(y) for _, y in loader.epoch_batches(0)] == [8] * 6 + [2]


def test_no_shuffle_keeps_order_and_unaugmented_images():
    images, _ = _data()
    loader = _loader(shuffle=False, augment=False, mean=0.0, std=1.0)
    xs = torch.cat([x for x, _ in loader.epoch_batches(0)])
    torch.testing.assert_close(xs, images.float() / 255, rtol=0, atol=1e-6)


def test_drop_last():
    images, labels = _data(n=10)
    assert len(TensorLoader(images, labels, 4, drop_last=True)) == 2
    assert len(TensorLoader(images, labels, 4, drop_last=False)) == 3
    sizes = [len(y) for _, y in TensorLoader(images, labels, 4, drop_last=True).epoch_batches(0)]
    assert sizes == [4, 4]


def test_normalisation_values():
    images = torch.tensor([[[[0, 255]], [[128, 51]]]], dtype=torch.uint8)  # [1, 2 channels, 1, 2]
    mean = torch.tensor([0.5, 0.2]).view(1, 2, 1, 1)
    std = torch.tensor([0.25, 0.1]).view(1, 2, 1, 1)
    out = normalize(images, mean, std)
    expected = torch.tensor([[[[-2.0, 2.0]], [[(128 / 255 - 0.2) / 0.1, 0.0]]]])
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    loader = TensorLoader(images, torch.zeros(1, dtype=torch.long), 1, mean=(0.5, 0.2), std=(0.25, 0.1))
    x, _ = next(loader.epoch_batches(0))
    torch.testing.assert_close(x, expected, rtol=0, atol=1e-5)


def test_crop_flip_on_hand_made_image():
    img = torch.arange(1, 17, dtype=torch.uint8).view(1, 1, 4, 4)
    # 4x4 window at the top-left of the 1-padded 6x6 image: zero row and column, then img[:3, :3].
    out = crop_flip(img, torch.tensor([0]), torch.tensor([0]), torch.tensor([False]), 4, 1)
    assert out[0, 0].tolist() == [[0, 0, 0, 0], [0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]]
    # Bottom-right window, flipped: img[1:, 1:] mirrored, zero column now on the left.
    out = crop_flip(img, torch.tensor([2]), torch.tensor([2]), torch.tensor([True]), 4, 1)
    assert out[0, 0].tolist() == [[0, 8, 7, 6], [0, 12, 11, 10], [0, 16, 15, 14], [0, 0, 0, 0]]
    # Centre window without flip is the image itself.
    out = crop_flip(img, torch.tensor([1]), torch.tensor([1]), torch.tensor([False]), 4, 1)
    assert torch.equal(out, img)


def _reference_crop_flip(images, top, left, flip, size, padding):
    sh, sw = (size, size) if isinstance(size, int) else size
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    out = []
    for i in range(len(images)):  # the slow, obviously-correct version
        win = padded[i, :, top[i] : top[i] + sh, left[i] : left[i] + sw]
        out.append(win.flip(-1) if flip[i] else win)
    return torch.stack(out)


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       padding=st.integers(0, 3), seed=st.integers(0, 2**31))  # fmt: skip
def test_crop_flip_matches_reference(b, c, h, w, padding, seed):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (b, c, h, w), generator=gen, dtype=torch.uint8)
    sh = int(torch.randint(1, h + 2 * padding + 1, (), generator=gen))
    sw = int(torch.randint(1, w + 2 * padding + 1, (), generator=gen))
    top = torch.randint(0, h + 2 * padding - sh + 1, (b,), generator=gen)
    left = torch.randint(0, w + 2 * padding - sw + 1, (b,), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    expected = _reference_crop_flip(images, top, left, flip, (sh, sw), padding)
    assert torch.equal(crop_flip(images, top, left, flip, (sh, sw), padding), expected)


def test_random_crop_flip_outputs_are_valid_windows():
    img = torch.arange(1, 17, dtype=torch.uint8).view(1, 1, 4, 4)
    batch = img.repeat(64, 1, 1, 1)
    out = random_crop_flip(batch, AugmentConfig(padding=1, flip=True), make_generator(0, 1))
    windows = {
        (t, l, f): _reference_crop_flip(img, [t], [l], [f], 4, 1)[0]
        for t in range(3) for l in range(3) for f in (False, True)
    }  # fmt: skip
    seen = set()
    for x in out:
        matches = [key for key, win in windows.items() if torch.equal(win, x)]
        assert matches, "output is not a padded window of the input"
        seen.add(matches[0])
    assert len(seen) > 9  # offsets and flips actually vary


def test_flip_only():
    img = torch.arange(6, dtype=torch.uint8).view(1, 1, 2, 3).repeat(32, 1, 1, 1)
    out = random_crop_flip(img, AugmentConfig(padding=0, flip=True), make_generator(1, 1))
    flipped = torch.tensor([[2, 1, 0], [5, 4, 3]], dtype=torch.uint8)
    is_flipped = [torch.equal(x[0], flipped) for x in out]
    assert all(torch.equal(x[0], img[0, 0]) or f for x, f in zip(out, is_flipped))
    assert 0 < sum(is_flipped) < 32


def test_crop_smaller_than_input_and_no_flip():
    images, labels = _data(n=6, size=8)
    loader = TensorLoader(images, labels, 3, augment=AugmentConfig(crop_size=5, padding=0, flip=False))
    for x, y in loader.epoch_batches(0):
        assert x.shape == (len(y), 1, 5, 5)


def test_rejects_bad_inputs():
    images, labels = _data()
    with pytest.raises(ValueError, match="uint8"):
        TensorLoader(images.float(), labels, 4)
    with pytest.raises(ValueError, match="labels"):
        TensorLoader(images, labels[:-1], 4)
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(images, labels, 0)
    with pytest.raises(ValueError, match="channels"):
        TensorLoader(images, labels, 4, mean=(0.1, 0.2))
    with pytest.raises(ValueError, match="padding"):
        AugmentConfig(padding=-1)
    with pytest.raises(ValueError, match="crop_size"):
        TensorLoader(images, labels, 4, augment=AugmentConfig(crop_size=20, padding=1))

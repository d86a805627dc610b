"""load_dataset / make_loaders on fake data (and the real Fashion-MNIST if installed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hwnas.data import AugmentConfig, BatchSource, TensorLoader, load_dataset, make_loaders
from hwnas.data.cifar import CIFAR10

from .fakes import make_fake_cifar_archive, make_fake_fashion

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="fashion-mnist, cifar10, cifar100, imagefolder:PATH"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="split"):
        load_dataset("cifar10", split="val")


def test_fashion_info_and_limit(no_system_data, tmp_path):
    make_fake_fashion(tmp_path / "d", n_train=40)
    info = load_dataset("fashion-mnist", data_dir=tmp_path / "d")
    assert (info.num_classes, info.in_channels, info.input_size) == (10, 1, 28)
    assert info.mean == (0.2860,) and info.std == (0.3530,) and len(info.classes) == 10
    assert info.augment == AugmentConfig(crop_size=28, padding=2, flip=True)
    small = load_dataset("fashion-mnist", data_dir=tmp_path / "d", limit=7, seed=1)
    assert len(small) == 7 and small.images.shape == (7, 1, 28, 28)
    again = load_dataset("fashion-mnist", data_dir=tmp_path / "d", limit=7, seed=1)
    assert torch.equal(small.images, again.images)


def _first_pixels(source) -> list[int]:
    # Un-normalise the top-left pixel back to its uint8 value to identify samples.
    return [round(v) for x, _ in source.epoch_batches(0) for v in (x[:, 0, 0, 0] * 0.3530 + 0.2860).mul(255).tolist()]


def test_make_loaders_val_is_carved_disjointly(no_system_data, tmp_path):
    d = tmp_path / "d"
    make_fake_fashion(d, n_train=100, n_test=10)
    # Give every training image a unique top-left pixel so samples can be told apart.
    from hwnas.data.idx import read_idx, write_idx

    images = read_idx(d / "train-images-idx3-ubyte.gz")
    images[:, 0, 0] = range(100)
    write_idx(d / "train-images-idx3-ubyte.gz", images)
    loaders = make_loaders("fashion-mnist", 16, seed=0, data_dir=d, val_fraction=0.2, augment=False)
    assert isinstance(loaders.train, BatchSource) and isinstance(loaders.train, TensorLoader)
    train_ids, val_ids = _first_pixels(loaders.train), _first_pixels(loaders.val)
    assert len(val_ids) == 20 and len(train_ids) == 80
    assert sorted(train_ids + val_ids) == list(range(100))
    assert len(loaders.test) == 1 and len(loaders.info) == 100
    same = make_loaders("fashion-mnist", 16, seed=0, data_dir=d, val_fraction=0.2, augment=False)
    assert _first_pixels(same.val) == val_ids


def test_make_loaders_augments_train_only(no_system_data, tmp_path):
    make_fake_fashion(tmp_path / "d", n_train=20, n_test=10)
    loaders = make_loaders("fashion-mnist", 8, seed=0, data_dir=tmp_path / "d")
    assert loaders.train.augment == AugmentConfig(crop_size=28, padding=2, flip=True)
    assert loaders.test.augment is None and loaders.val is None
    with pytest.raises(ValueError, match="val_fraction"):
        make_loaders("fashion-mnist", 8, data_dir=tmp_path / "d", val_fraction=1.5)


def test_cifar_through_registry(no_system_data, tmp_path):
    make_fake_cifar_archive(tmp_path / "d" / CIFAR10.archive, CIFAR10)
    loaders = make_loaders("cifar10", 8, seed=0, data_dir=tmp_path / "d")
    x, y = next(loaders.train.epoch_batches(0))
    assert x.shape == (8, 3, 32, 32) and loaders.info.mean == (0.4914, 0.4822, 0.4465)


@pytest.mark.skipif(not REAL_DIR.is_dir(), reason=f"Fashion-MNIST not installed at {REAL_DIR}")
def test_real_fashion_mnist_loaders():
    loaders = make_loaders("fashion-mnist", 128, seed=0, val_fraction=0.2, limit=1000)
    assert (len(loaders.train), len(loaders.val), len(loaders.test)) == (7, 2, 8)
    x, y = next(loaders.train.epoch_batches(0))
    assert x.shape == (128, 1, 28, 28) and abs(float(x.mean())) < 0.5

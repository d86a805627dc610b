"""Fashion-MNIST: search order, download from a local server, error messages."""

from __future__ import annotations

import os

import pytest

from hwnas.data import find_fashion_mnist, load_fashion_mnist
from hwnas.data.fashion_mnist import CLASSES

from .fakes import make_fake_fashion


def test_download_from_local_server(http_server, no_system_data, tmp_path):
    root, base, requests = http_server
    md5 = make_fake_fashion(root, n_train=30, n_test=8)
    x, y = load_fashion_mnist("train", download=True, base_url=base, md5=md5, progress=False)
    assert x.shape == (30, 1, 28, 28) and str(x.dtype) == "torch.uint8"
    assert y.tolist() == [i % 10 for i in range(30)] and str(y.dtype) == "torch.int64"
    cache = tmp_path / "cache" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(md5)
    # Now cached: the test split loads without the network and without download=True.
    x_test, _ = load_fashion_mnist("test")
    assert x_test.shape == (8, 1, 28, 28)
    assert len(requests) == 4


def test_download_into_explicit_data_dir(http_server, no_system_data, tmp_path):
    root, base, _ = http_server
    md5 = make_fake_fashion(root)
    target = tmp_path / "mydata"
    load_fashion_mnist("test", data_dir=target, download=True, base_url=base, md5=md5, progress=False)
    assert len(list(target.iterdir())) == 4


def test_download_checksum_mismatch_leaves_no_file(http_server, no_system_data, tmp_path):
    root, base, _ = http_server
    md5 = make_fake_fashion(root)
    md5["train-images-idx3-ubyte.gz"] = "f" * 32
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_fashion_mnist("train", download=True, base_url=base, md5=md5, progress=False)
    cache = tmp_path / "cache" / "fashion-mnist"
    assert "train-images-idx3-ubyte.gz" not in os.listdir(cache)
    assert not [n for n in os.listdir(cache) if n.startswith(".")]  # no temp files either


def test_missing_without_download_lists_search_path(no_system_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_DATA", str(tmp_path / "envdata"))
    (tmp_path / "explicit").mkdir()  # exists but is empty (a missing one is an error of its own)
    with pytest.raises(FileNotFoundError) as err:
        load_fashion_mnist("train", data_dir=tmp_path / "explicit")
    msg = str(err.value)
    for place in (tmp_path / "explicit", tmp_path / "envdata", tmp_path / "envdata" / "fashion-mnist",
                  no_system_data / "fashion-mnist", tmp_path / "cache" / "fashion-mnist"):  # fmt: skip
        assert str(place) in msg
    assert "download=True" in msg and "HWNAS_DATA" in msg and "apt-get install" in msg
    # Listed in search order.
    assert msg.index(str(tmp_path / "explicit")) < msg.index(str(tmp_path / "envdata"))


def test_search_order(no_system_data, tmp_path, monkeypatch):
    make_fake_fashion(tmp_path / "explicit", n_train=11)
    make_fake_fashion(tmp_path / "env" / "fashion-mnist", n_train=12)
    make_fake_fashion(tmp_path / "cache" / "fashion-mnist", n_train=13)
    monkeypatch.setenv("HWNAS_DATA", str(tmp_path / "env"))
    assert len(load_fashion_mnist(data_dir=tmp_path / "explicit")[0]) == 11
    assert len(load_fashion_mnist()[0]) == 12
    monkeypatch.delenv("HWNAS_DATA")
    assert len(load_fashion_mnist()[0]) == 13


def test_raw_unpacked_files_are_found(no_system_data, tmp_path):
    make_fake_fashion(tmp_path / "d")
    for path in (tmp_path / "d").iterdir():  # rename x.gz -> x, content still gzip: sniffed
        path.rename(path.with_suffix(""))
    images, _ = find_fashion_mnist(tmp_path / "d", split="train")
    assert images.name == "train-images-idx3-ubyte"
    assert len(load_fashion_mnist(data_dir=tmp_path / "d")[0]) == 40


def test_bad_split_and_class_names():
    with pytest.raises(ValueError, match="'val'"):
        load_fashion_mnist("val")
    assert len(CLASSES) == 10 and CLASSES[9] == "Ankle boot"

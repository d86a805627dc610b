"""CIFAR-10/100: fake archives served locally, safe extraction, layout checks."""

from __future__ import annotations

import io
import os
import tarfile

import numpy as np
import pytest

from hwnas.data import load_cifar, safe_extract
from hwnas.data.cifar import CIFAR10, CIFAR100

from .fakes import cifar_batch, make_fake_cifar_archive


def test_cifar10_download_from_local_server(http_server, no_system_data, tmp_path):
    root, base, requests = http_server
    md5 = make_fake_cifar_archive(root / CIFAR10.archive, CIFAR10, per_batch=4)
    x, y, classes = load_cifar("cifar10", "train", download=True, base_url=base, md5=md5, progress=False)
    assert x.shape == (20, 3, 32, 32) and str(x.dtype) == "torch.uint8"
    assert y.tolist() == [i % 10 for i in range(20)]
    assert classes == tuple(f"class_{i}" for i in range(10))
    # Row layout: 1024 red, then green, then blue values, each row-major.
    expected = cifar_batch(4, b"labels", 10, offset=0)[b"data"][1].reshape(3, 32, 32)
    np.testing.assert_array_equal(x[1].numpy(), expected)
    x_test, y_test, _ = load_cifar("cifar10", "test")  # found extracted in the cache, no request
    assert x_test.shape == (4, 3, 32, 32) and y_test.tolist() == [0, 1, 2, 3]
    assert len(requests) == 1


def test_cifar100_from_archive_in_data_dir(no_system_data, tmp_path):
    make_fake_cifar_archive(tmp_path / "d" / CIFAR100.archive, CIFAR100, per_batch=5, protocol=4)
    x, y, classes = load_cifar(100, "test", data_dir=tmp_path / "d")
    assert x.shape == (5, 3, 32, 32) and y.tolist() == [5, 6, 7, 8, 9] and len(classes) == 100
    assert (tmp_path / "d" / CIFAR100.folder / "meta").is_file()


def test_cifar_checksum_mismatch_leaves_nothing(http_server, no_system_data, tmp_path):
    root, base, _ = http_server
    make_fake_cifar_archive(root / CIFAR10.archive, CIFAR10)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_cifar("cifar10", download=True, base_url=base, progress=False)  # official md5 != fake
    cache = tmp_path / "cache" / "cifar10"
    assert not cache.exists() or os.listdir(cache) == []


def test_cifar_missing_lists_search_path(no_system_data, tmp_path):
    (tmp_path / "nowhere").mkdir()  # an empty data dir: the message lists where it looked
    with pytest.raises(FileNotFoundError) as err:
        load_cifar("cifar100", data_dir=tmp_path / "nowhere")
    msg = str(err.value)
    assert "cifar-100-python.tar.gz" in msg and str(tmp_path / "nowhere") in msg
    assert str(tmp_path / "cache" / "cifar100") in msg and "download=True" in msg


def test_a_data_dir_that_does_not_exist_is_an_error_not_a_fallback(no_system_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        load_cifar("cifar100", data_dir=tmp_path / "nowhere")


def test_unknown_variant():
    with pytest.raises(ValueError, match="cifar10"):
        load_cifar("cifar11")


def _tar_with(path, member: tarfile.TarInfo, payload: bytes = b"x") -> None:
    with tarfile.open(path, "w:gz") as tar:
        member.size = len(payload) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(payload) if member.isfile() else None)


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/evil_abs.txt", "ok/../../evil.txt"])
def test_safe_extract_rejects_escaping_paths(tmp_path, name):
    archive = tmp_path / "bad.tar.gz"
    _tar_with(archive, tarfile.TarInfo(name))
    with pytest.raises(ValueError, match="absolute path or '..'"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert os.listdir(tmp_path / "out") == []


def test_safe_extract_rejects_links(tmp_path):
    link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = tmp_path / "link.tar.gz"
    _tar_with(archive, link)
    with pytest.raises(ValueError, match="link or special file"):
        safe_extract(archive, tmp_path / "out")


def test_corrupt_archive_raises_value_error(no_system_data, tmp_path):
    archive = tmp_path / "d" / CIFAR10.archive
    make_fake_cifar_archive(archive, CIFAR10)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz"):
        load_cifar("cifar10", data_dir=tmp_path / "d")
    assert not (tmp_path / "d" / CIFAR10.folder).exists()

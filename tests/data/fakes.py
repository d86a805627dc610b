"""Builders for small fake datasets with the same on-disk layout as the real ones."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from hwnas.data.cifar import CifarSpec
from hwnas.data.idx import write_idx

FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def make_fake_fashion(directory: Path, n_train: int = 40, n_test: int = 12, seed: int = 0) -> dict[str, str]:
    """Write the four gzipped IDX files; return {file name: md5}."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        img_name, lbl_name = FASHION_FILES[split]
        write_idx(directory / img_name, images)
        write_idx(directory / lbl_name, labels)
        md5s[img_name] = md5_of(directory / img_name)
        md5s[lbl_name] = md5_of(directory / lbl_name)
    return md5s


def cifar_batch(n: int, label_key: bytes, num_classes: int, offset: int) -> dict:
    """A batch dict shaped like the real ones: uint8 data (n, 3072) and a label list."""
    data = ((np.arange(n * 3072, dtype=np.int64) + offset) % 251).astype(np.uint8).reshape(n, 3072)
    return {
        b"batch_label": b"fake batch",
        label_key: [int((offset + i) % num_classes) for i in range(n)],
        b"data": data,
        b"filenames": [f"img_{offset + i}.png".encode() for i in range(n)],
    }


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def make_fake_cifar_archive(path: Path, spec: CifarSpec, per_batch: int = 4, protocol: int = 2) -> str:
    """Build ``path`` (a .tar.gz shaped like the official one); return its md5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        dir_info = tarfile.TarInfo(spec.folder)
        dir_info.type = tarfile.DIRTYPE
        dir_info.mode = 0o755
        tar.addfile(dir_info)
        for i, name in enumerate(spec.train_files + spec.test_files):
            batch = cifar_batch(per_batch, spec.label_key, spec.num_classes, offset=i * per_batch)
            _add_bytes(tar, f"{spec.folder}/{name}", pickle.dumps(batch, protocol=protocol))
        names = [f"class_{i}".encode() for i in range(spec.num_classes)]
        meta = {spec.names_key: names, b"num_cases_per_batch": per_batch}
        _add_bytes(tar, f"{spec.folder}/{spec.meta_file}", pickle.dumps(meta, protocol=protocol))
    return md5_of(path)

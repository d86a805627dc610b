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


STRIPES = 5  # stripe directions: rows, columns, two diagonals, a checkerboard
PERIOD = 4  # pixels per stripe period (2 on, 2 off): a 3x3 kernel sees one edge of it


def learnable_images(labels: np.ndarray, rng: np.random.Generator, noise: float = 20.0) -> np.ndarray:
    """28x28 uint8 images whose class a small conv net learns in a few dozen steps.

    Class ``k`` is a stripe pattern of direction ``k % 5`` (rows, columns, both diagonals, a checkerboard) at a
    random phase, dark (20/120) for ``k < 5`` and bright (120/240) otherwise, plus Gaussian pixel noise. Both cues
    are local and survive global pooling, so a network's accuracy reflects whether it can compute at all: a
    search test can then tell a working candidate from a crippled one (pure-noise images could not, every network
    scores chance on them).
    """
    rows, cols = np.mgrid[0:28, 0:28]
    directions = (rows, cols, rows + cols, rows - cols + 28, (rows // 2 + cols // 2) * 2)
    images = np.empty((len(labels), 28, 28))
    for i, k in enumerate(labels):
        coord = directions[int(k) % STRIPES] + rng.integers(0, PERIOD)
        on = (coord // (PERIOD // 2)) % 2
        low, high = (20, 120) if int(k) < STRIPES else (120, 240)
        images[i] = low + (high - low) * on + rng.normal(0, noise, (28, 28))
    return np.clip(images, 0, 255).astype(np.uint8)


def make_fake_fashion(directory: Path, n_train: int = 40, n_test: int = 12, seed: int = 0) -> dict[str, str]:
    """Write the four gzipped IDX files (labels cycle 0..9, :func:`learnable_images`); return {file name: md5}."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = learnable_images(labels, rng)
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

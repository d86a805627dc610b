"""Fashion-MNIST: locate (or download) the four IDX files and load them as tensors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from hwnas.data.download import download, join_url
from hwnas.data.idx import read_idx
from hwnas.data.locate import candidate_dirs, download_dir, not_found

NAME = "fashion-mnist"
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
MEAN = (0.2860,)
STD = (0.3530,)
# Official checksums of the gzipped files as published upstream.
MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_INSTALL_HINT = "Install it with `apt-get install dataset-fashion-mnist`"


def _split_files(split: str) -> tuple[str, str]:
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"Fashion-MNIST split must be one of {sorted(_SPLIT_PREFIX)}, got {split!r}")
    prefix = _SPLIT_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find_in(directory: Path, stem: str) -> Path | None:
    """``stem.gz`` or the already-unpacked ``stem`` in ``directory``."""
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def find_fashion_mnist(data_dir: str | os.PathLike[str] | None = None, *, split: str = "train") -> tuple[Path, Path]:
    """Paths of the (images, labels) files for ``split``; FileNotFoundError listing the search."""
    stems = _split_files(split)
    dirs = candidate_dirs(NAME, data_dir)
    for directory in dirs:
        found = [_find_in(directory, stem) for stem in stems]
        if all(found):
            return found[0], found[1]
    raise not_found(f"Fashion-MNIST ({split} split: {' + '.join(stems)}[.gz])", dirs, _INSTALL_HINT)


def download_fashion_mnist(
    dest_dir: str | os.PathLike[str],
    *,
    base_url: str = BASE_URL,
    md5: Mapping[str, str] | None = None,
    progress: bool = True,
) -> Path:
    """Download all four files into ``dest_dir``, verifying ``md5`` (default: official)."""
    dest_dir = Path(dest_dir)
    checksums = MD5 if md5 is None else md5
    for name in MD5:
        download(join_url(base_url, name), dest_dir / name, md5=checksums.get(name), progress=progress)
    return dest_dir


def _validate(images: np.ndarray, labels: np.ndarray, paths: tuple[Path, Path]) -> None:
    if images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(
            f"{paths[0]} holds {images.dtype} images of shape {images.shape[1:]}, "
            "expected uint8 28x28; is it a Fashion-MNIST images file?"
        )
    if len(labels) != len(images):
        raise ValueError(f"{paths[1]} has {len(labels)} labels but {paths[0]} has {len(images)} images")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(f"{paths[1]} has labels outside 0..{len(CLASSES) - 1}")


def load_fashion_mnist(
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    base_url: str = BASE_URL,
    md5: Mapping[str, str] | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load ``split`` as (uint8 images [N,1,28,28], int64 labels [N]).

    Searches ``data_dir``, ``$HWNAS_DATA``, the system dataset dir and the cache;
    with ``download=True`` a miss fetches the files into ``data_dir`` or the cache.
    """
    try:
        paths = find_fashion_mnist(data_dir, split=split)
    except FileNotFoundError:
        if not download:
            raise
        download_fashion_mnist(download_dir(NAME, data_dir), base_url=base_url, md5=md5, progress=progress)
        paths = find_fashion_mnist(data_dir, split=split)
    images = read_idx(paths[0], ndim=3)
    labels = read_idx(paths[1], ndim=1)
    _validate(images, labels, paths)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))

"""CIFAR-10 / CIFAR-100 from the official python pickle batches."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hwnas.data.archive import safe_extract
from hwnas.data.download import download, join_url
from hwnas.data.locate import default_cache_dir
from hwnas.data.locate import candidate_dirs, download_dir, not_found
from hwnas.data.safe_pickle import safe_load

BASE_URL = "https://www.cs.toronto.edu/~kriz/"


@dataclass(frozen=True)
class CifarSpec:
    """File layout of one CIFAR variant."""

    name: str  # registry name, also the sub-directory searched for
    title: str
    archive: str
    md5: str
    folder: str  # directory inside the archive
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    label_key: bytes
    names_key: bytes
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


CIFAR10 = CifarSpec(
    name="cifar10", title="CIFAR-10", archive="cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a", folder="cifar-10-batches-py",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)), test_files=("test_batch",),
    meta_file="batches.meta", label_key=b"labels", names_key=b"label_names", num_classes=10,
    mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
)  # fmt: skip
CIFAR100 = CifarSpec(
    name="cifar100", title="CIFAR-100", archive="cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85", folder="cifar-100-python",
    train_files=("train",), test_files=("test",),
    meta_file="meta", label_key=b"fine_labels", names_key=b"fine_label_names", num_classes=100,
    mean=(0.5071, 0.4865, 0.4409), std=(0.2673, 0.2564, 0.2762),
)  # fmt: skip
SPECS = {spec.name: spec for spec in (CIFAR10, CIFAR100)}


def get_spec(variant: str | int) -> CifarSpec:
    """The spec for ``"cifar10"``/``10`` or ``"cifar100"``/``100``."""
    key = f"cifar{variant}" if isinstance(variant, int) else variant
    if key not in SPECS:
        raise ValueError(f"unknown CIFAR variant {variant!r}; use one of {sorted(SPECS)} (or 10, 100)")
    return SPECS[key]


def _extract_target(archive: Path, spec: CifarSpec) -> Path:
    """Extract next to the archive if we may write there, else into the cache."""
    parent = archive.parent
    target = parent if os.access(parent, os.W_OK) else default_cache_dir() / spec.name
    if not (target / spec.folder / spec.meta_file).is_file():  # not extracted by an earlier run
        safe_extract(archive, target)
    if not (target / spec.folder).is_dir():
        raise ValueError(f"{archive} does not contain the expected folder {spec.folder}/")
    return target / spec.folder


def find_cifar(spec: CifarSpec, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The extracted batches folder, extracting a found archive on the way."""
    dirs = candidate_dirs(spec.name, data_dir)
    for directory in dirs:
        if (directory / spec.folder / spec.meta_file).is_file():
            return directory / spec.folder
        if (directory / spec.meta_file).is_file():  # data_dir points at the folder itself
            return directory
        if (directory / spec.archive).is_file():
            return _extract_target(directory / spec.archive, spec)
    raise not_found(f"{spec.title} ({spec.folder}/ or {spec.archive})", dirs)


def _read_pickle(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            obj = safe_load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"CIFAR batch file missing: {path}; delete the folder and re-extract") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise ValueError(f"cannot read CIFAR batch {path}: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"CIFAR batch {path} holds a {type(obj).__name__}, expected a dict")
    return obj


def _read_batch(path: Path, spec: CifarSpec) -> tuple[np.ndarray, np.ndarray]:
    batch = _read_pickle(path)
    if b"data" not in batch or spec.label_key not in batch:
        raise ValueError(f"CIFAR batch {path} lacks keys b'data' and {spec.label_key!r}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[spec.label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"CIFAR batch {path} has data {data.dtype}{data.shape}, expected uint8 (N, 3072)")
    if labels.shape != (len(data),):
        raise ValueError(f"CIFAR batch {path} has {labels.size} labels for {len(data)} images")
    if labels.size and (labels.min() < 0 or labels.max() >= spec.num_classes):
        raise ValueError(f"CIFAR batch {path} has labels outside 0..{spec.num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels


def cifar_classes(folder: Path, spec: CifarSpec) -> tuple[str, ...]:
    """Class names from the meta file."""
    meta = _read_pickle(folder / spec.meta_file)
    names = meta.get(spec.names_key)
    if not isinstance(names, list) or len(names) != spec.num_classes:
        raise ValueError(f"{folder / spec.meta_file} lacks {spec.num_classes} names under {spec.names_key!r}")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def download_cifar(
    spec: CifarSpec, dest_dir: str | os.PathLike[str], *, base_url: str = BASE_URL,
    md5: str | None = None, progress: bool = True,
) -> Path:  # fmt: skip
    """Download the archive into ``dest_dir`` (checking ``md5``, default official), extract it."""
    archive = download(join_url(base_url, spec.archive), Path(dest_dir) / spec.archive,
                       md5=md5 or spec.md5, progress=progress)  # fmt: skip
    return _extract_target(archive, spec)


def load_cifar(
    variant: str | int = "cifar10",
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    base_url: str = BASE_URL,
    md5: str | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Load (uint8 images [N,3,32,32], int64 labels [N], class names)."""
    spec = get_spec(variant)
    if split not in ("train", "test"):
        raise ValueError(f"{spec.title} split must be 'train' or 'test', got {split!r}")
    try:
        folder = find_cifar(spec, data_dir)
    except FileNotFoundError:
        if not download:
            raise
        folder = download_cifar(spec, download_dir(spec.name, data_dir), base_url=base_url,
                                md5=md5, progress=progress)  # fmt: skip
    files = spec.train_files if split == "train" else spec.test_files
    parts = [_read_batch(folder / name, spec) for name in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(images), torch.from_numpy(labels), cifar_classes(folder, spec)

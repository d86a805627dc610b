"""One entry point for every dataset: ``load_dataset`` and ``make_loaders``."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from hwnas.data import cifar, fashion_mnist
from hwnas.data.dataset_loader import DatasetLoader
from hwnas.data.imagefolder import IMAGENET_MEAN, IMAGENET_STD, ImageFolderDataset, read_list_file
from hwnas.data.protocol import BatchSource
from hwnas.data.sampling import derive_seed
from hwnas.data.splits import limit_indices, split_indices
from hwnas.data.tensor_pipeline import AugmentConfig, TensorLoader

DATASET_NAMES = ("fashion-mnist", "cifar10", "cifar100", "imagefolder:PATH")
IMAGEFOLDER_PREFIX = "imagefolder:"
_SPLITS = ("train", "test")
# Per-loader seed streams, so train / val / test shuffles are unrelated.
_TRAIN, _VAL, _TEST = 0, 1, 2


@dataclass(frozen=True)
class DatasetInfo:
    """One split of a dataset plus what a model needs to know about it.

    ``images`` is a uint8 tensor [N,C,H,W] for in-memory datasets, or an
    :class:`ImageFolderDataset` for ImageNet-style folders. ``augment`` is the
    default training augmentation for in-memory datasets (None otherwise).
    """

    name: str
    split: str
    images: torch.Tensor | ImageFolderDataset
    labels: torch.Tensor
    num_classes: int
    in_channels: int
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]
    augment: AugmentConfig | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def in_memory(self) -> bool:
        return isinstance(self.images, torch.Tensor)

    def subset(self, indices: torch.Tensor) -> DatasetInfo:
        """The same dataset restricted to ``indices``."""
        images = self.images[indices] if self.in_memory else self.images.subset(indices)
        return replace(self, images=images, labels=self.labels[indices])


def _check_split(split: str) -> None:
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")


def _load_fashion(split: str, data_dir, download: bool, progress: bool) -> DatasetInfo:
    images, labels = fashion_mnist.load_fashion_mnist(split, data_dir=data_dir, download=download, progress=progress)
    return DatasetInfo(fashion_mnist.NAME, split, images, labels, len(fashion_mnist.CLASSES), 1, 28,
                       fashion_mnist.MEAN, fashion_mnist.STD, fashion_mnist.CLASSES,
                       AugmentConfig(crop_size=28, padding=2, flip=True))  # fmt: skip


def _load_cifar(spec: cifar.CifarSpec, split: str, data_dir, download: bool, progress: bool) -> DatasetInfo:
    images, labels, classes = cifar.load_cifar(spec.name, split, data_dir=data_dir, download=download,
                                               progress=progress)  # fmt: skip
    return DatasetInfo(spec.name, split, images, labels, spec.num_classes, 3, 32, spec.mean, spec.std,
                       classes, AugmentConfig(crop_size=32, padding=4, flip=True))  # fmt: skip


def _imagefolder_source(root: Path, split: str) -> Path | None:
    """The folder or list file holding ``split`` under ``root``, if any."""
    names = ("train",) if split == "train" else ("val", "test")
    for name in names:
        for candidate in (root / name, root / f"{name}.txt"):
            if candidate.exists():
                return candidate
    return None


def _imagefolder_classes(root: Path) -> list[str] | None:
    """Class names fixed by the train split, so test labels number the same way."""
    source = _imagefolder_source(root, "train")
    if source is None:
        return None
    if source.is_dir():
        return sorted(d.name for d in source.iterdir() if d.is_dir() and not d.name.startswith("."))
    labels = [label for _, label in read_list_file(source, root, check_files=False)]
    return [str(i) for i in range(max(labels) + 1)]


def _load_imagefolder(path: str, split: str, image_size: int) -> DatasetInfo:
    if not path:
        raise ValueError("imagefolder needs a path: use 'imagefolder:/path/to/root'")
    root = Path(path).expanduser()
    source = _imagefolder_source(root, split)
    if source is None:
        wanted = "train/ or train.txt" if split == "train" else "val/, test/, val.txt or test.txt"
        raise FileNotFoundError(f"imagefolder {split} split not found: looked for {wanted} in {root}")
    classes = _imagefolder_classes(root)
    kwargs = dict(classes=classes, train=False, image_size=image_size)
    if source.is_dir():
        ds = ImageFolderDataset.from_folder(source, **kwargs)
    else:
        ds = ImageFolderDataset.from_list_file(source, root, **kwargs)
    return DatasetInfo(f"{IMAGEFOLDER_PREFIX}{root}", split, ds, ds.labels, ds.num_classes, 3, image_size,
                       IMAGENET_MEAN, IMAGENET_STD, ds.classes)  # fmt: skip


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    split: str = "train",
    limit: int | None = None,
    seed: int = 0,
    image_size: int = 224,
    progress: bool = True,
) -> DatasetInfo:
    """Load ``split`` of dataset ``name`` (one of :data:`DATASET_NAMES`).

    ``limit`` keeps the first N samples of a ``seed``-ed shuffle (for demos and
    tests). ``image_size`` applies to ImageFolder datasets only.
    """
    _check_split(split)
    if name == fashion_mnist.NAME:
        info = _load_fashion(split, data_dir, download, progress)
    elif name in cifar.SPECS:
        info = _load_cifar(cifar.SPECS[name], split, data_dir, download, progress)
    elif name.startswith(IMAGEFOLDER_PREFIX):
        info = _load_imagefolder(name[len(IMAGEFOLDER_PREFIX) :], split, image_size)
    else:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
    if limit is not None:
        info = info.subset(limit_indices(len(info), limit, seed))
    return info


@dataclass
class Loaders:
    """Batch sources for one run; ``val`` is None when no validation split was carved."""

    train: BatchSource
    val: BatchSource | None
    test: BatchSource
    info: DatasetInfo  # the (full) training split's metadata


def make_source(info: DatasetInfo, batch_size: int, *, seed: int, device: str | torch.device = "cpu",
                shuffle: bool = False, augment: bool | AugmentConfig = False, drop_last: bool = False,
                num_workers: int = 0) -> BatchSource:  # fmt: skip
    """A TensorLoader for in-memory datasets, a DatasetLoader for ImageFolder ones."""
    if info.in_memory:
        aug = info.augment if augment is True else (augment or False)
        return TensorLoader(info.images, info.labels, batch_size, shuffle=shuffle, augment=aug, mean=info.mean,
                            std=info.std, seed=seed, drop_last=drop_last, device=device)  # fmt: skip
    dataset = info.images.subset(range(len(info)), train=bool(augment))
    return DatasetLoader(dataset, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last, device=device,
                         mean=info.mean, std=info.std, channels=info.in_channels, num_workers=num_workers,
                         pin_memory=torch.device(device).type == "cuda")  # fmt: skip


def _carve_val(train: DatasetInfo, val_fraction: float, seed: int, stratify: bool) -> tuple[DatasetInfo, DatasetInfo]:
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    labels = train.labels if stratify else None
    train_idx, val_idx = split_indices(len(train), (1 - val_fraction, val_fraction), seed, labels=labels)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise ValueError(
            f"val_fraction={val_fraction} of {len(train)} training samples leaves an empty split; "
            "change val_fraction or limit"
        )
    return train.subset(train_idx), train.subset(val_idx)


def make_loaders(
    name: str,
    batch_size: int,
    seed: int = 0,
    device: str | torch.device = "cpu",
    *,
    val_fraction: float = 0.0,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    augment: bool | AugmentConfig = True,
    limit: int | None = None,
    eval_batch_size: int | None = None,
    stratify: bool = True,
    val_shuffle: bool = False,
    drop_last: bool = False,
    num_workers: int = 0,
    image_size: int = 224,
    progress: bool = True,
) -> Loaders:
    """Train / val / test batch sources for dataset ``name``.

    ``val`` is carved (stratified by default) from the training split when
    ``val_fraction > 0``; for supernet search pass ``val_fraction=0.2,
    val_shuffle=True`` to get the weight (train) / arch (val) split. ``test``
    is the official test split. Only ``train`` is augmented. ``limit`` is
    applied to the train and test splits separately, before carving ``val``.
    """
    common = dict(data_dir=data_dir, download=download, limit=limit, seed=seed, image_size=image_size,
                  progress=progress)  # fmt: skip
    full_train = load_dataset(name, split="train", **common)
    test = load_dataset(name, split="test", **common)
    train, val = full_train, None
    if val_fraction:
        train, val = _carve_val(full_train, val_fraction, seed, stratify)
    eval_bs = eval_batch_size or batch_size
    opts = dict(device=device, num_workers=num_workers)
    return Loaders(
        train=make_source(train, batch_size, seed=derive_seed(seed, _TRAIN), shuffle=True, augment=augment,
                          drop_last=drop_last, **opts),  # fmt: skip
        val=None if val is None else make_source(val, eval_bs, seed=derive_seed(seed, _VAL), shuffle=val_shuffle, **opts),
        test=make_source(test, eval_bs, seed=derive_seed(seed, _TEST), **opts),
        info=full_train,
    )

"""Datasets and batch sources for hwnas.

Small datasets (Fashion-MNIST, CIFAR) live as one uint8 tensor on the device
and are served by :class:`TensorLoader`; ImageNet-style folders go through
:class:`DatasetLoader`. Both follow the :class:`BatchSource` protocol.
"""

from hwnas.data.archive import safe_extract
from hwnas.data.cifar import CIFAR10, CIFAR100, CifarSpec, load_cifar
from hwnas.data.dataset_loader import DatasetLoader
from hwnas.data.download import DownloadError, default_cache_dir, download, file_digest
from hwnas.data.fashion_mnist import find_fashion_mnist, load_fashion_mnist
from hwnas.data.idx import parse_idx, read_idx, write_idx
from hwnas.data.imagefolder import ImageFolderDataset, read_list_file, scan_folder
from hwnas.data.protocol import BatchSource
from hwnas.data.registry import DATASET_NAMES, DatasetInfo, Loaders, load_dataset, make_loaders, make_source
from hwnas.data.safe_pickle import RestrictedUnpickler, UnsafePickleError, safe_load, safe_loads
from hwnas.data.splits import limit_indices, split_indices, weight_arch_split
from hwnas.data.tensor_pipeline import AugmentConfig, TensorLoader, crop_flip, normalize, random_crop_flip

__all__ = [
    "AugmentConfig",
    "BatchSource",
    "CIFAR10",
    "CIFAR100",
    "CifarSpec",
    "DATASET_NAMES",
    "DatasetInfo",
    "DatasetLoader",
    "DownloadError",
    "ImageFolderDataset",
    "Loaders",
    "RestrictedUnpickler",
    "TensorLoader",
    "UnsafePickleError",
    "crop_flip",
    "default_cache_dir",
    "download",
    "file_digest",
    "find_fashion_mnist",
    "limit_indices",
    "load_cifar",
    "load_dataset",
    "load_fashion_mnist",
    "make_loaders",
    "make_source",
    "normalize",
    "parse_idx",
    "random_crop_flip",
    "read_idx",
    "read_list_file",
    "safe_extract",
    "safe_load",
    "safe_loads",
    "scan_folder",
    "split_indices",
    "weight_arch_split",
    "write_idx",
]

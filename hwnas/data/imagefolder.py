"""ImageNet-style datasets: class-per-folder trees or ``path label`` list files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from hwnas.data.image_transforms import eval_transform, to_uint8_tensor, train_transform
from hwnas.data.sampling import derive_seed

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".gif", ".tif", ".tiff", ".webp"})
# ImageNet statistics: the usual default for natural-image folders.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Sample = tuple[Path, int]


def _images_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def scan_folder(root: str | os.PathLike[str], classes: Sequence[str] | None = None) -> tuple[list[Sample], tuple[str, ...]]:
    """Samples of a ``root/<class>/<...>/<image>`` tree and the class names (sorted).

    Pass ``classes`` (e.g. from the train tree) so a val tree uses the same
    label numbering even if it lacks some classes.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist; pass the directory holding one sub-folder per class")
    found = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not found:
        raise ValueError(f"image folder {root} has no class sub-folders; expected {root}/<class>/<image>.jpg")
    classes = tuple(found) if classes is None else tuple(classes)
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ValueError(f"image folder {root} has class folders {unknown} not among the known classes {list(classes)}")
    index = {name: i for i, name in enumerate(classes)}
    samples: list[Sample] = []
    for name in found:
        files = _images_under(root / name)
        if not files:
            raise ValueError(
                f"class folder {root / name} contains no images (extensions {sorted(IMAGE_EXTENSIONS)}); "
                "add images or remove the folder"
            )
        samples += [(path, index[name]) for path in files]
    return samples, classes


def _parse_line(text: str, where: str, root: Path) -> Sample:
    parts = text.rsplit(maxsplit=1)  # rsplit: paths may contain spaces, labels cannot
    label = parts[1] if len(parts) == 2 else ""
    if not (label.isascii() and label.isdigit()):
        raise ValueError(f"{where}: expected 'relative/path.jpg label' with an integer label >= 0, got {text!r}")
    return root / parts[0], int(label)


def read_list_file(
    list_file: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, *, check_files: bool = True
) -> list[Sample]:
    """Parse a list file of ``relative/path.jpg label`` lines (paths relative to ``root``,
    default the list file's folder). Blank lines and ``#`` comments are skipped."""
    list_file = Path(list_file)
    root = Path(root) if root is not None else list_file.parent
    if not list_file.is_file():
        raise FileNotFoundError(f"list file {list_file} does not exist")
    samples: list[Sample] = []
    with open(list_file, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{list_file}:{lineno}"
            path, label = _parse_line(text, where, root)
            if check_files and not path.is_file():
                raise FileNotFoundError(f"{where}: image {path} does not exist (paths are relative to {root})")
            samples.append((path, label))
    if not samples:
        raise ValueError(f"list file {list_file} has no 'path label' lines")
    return samples


class ImageFolderDataset(Dataset):
    """Decoded, transformed images as uint8 [C, S, S] tensors with int labels.

    ``train=True``: random-resized-crop + flip; else resize + centre crop.
    Keys may be ``index`` or ``(index, sample_seed)``; loaders pass the seed so
    each epoch gets fresh, reproducible crops (see :class:`DatasetLoader`).
    """

    accepts_seeded_keys = True

    def __init__(self, samples: Sequence[Sample], classes: Sequence[str], *, train: bool = False,
                 image_size: int = 224, resize_size: int | None = None, mode: str = "RGB",
                 scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 flip: bool = True, seed: int = 0) -> None:  # fmt: skip
        if image_size <= 0:
            raise ValueError(f"image_size must be positive, got {image_size}")
        self.samples = list(samples)
        self.classes = tuple(classes)
        bad = [label for _, label in self.samples if not 0 <= label < len(self.classes)]
        if bad:
            raise ValueError(f"labels {sorted(set(bad))[:5]} are outside 0..{len(self.classes) - 1}")
        self.train = train
        self.options: dict[str, Any] = dict(image_size=image_size, resize_size=resize_size, mode=mode,
                                            scale=scale, ratio=ratio, flip=flip, seed=seed)  # fmt: skip

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str], *, classes: Sequence[str] | None = None,
                    **kwargs: Any) -> ImageFolderDataset:  # fmt: skip
        """Dataset over a class-per-folder tree."""
        samples, classes = scan_folder(root, classes)
        return cls(samples, classes, **kwargs)

    @classmethod
    def from_list_file(cls, list_file: str | os.PathLike[str], root: str | os.PathLike[str] | None = None, *,
                       classes: Sequence[str] | None = None, check_files: bool = True,
                       **kwargs: Any) -> ImageFolderDataset:  # fmt: skip
        """Dataset over a list file; classes default to ``"0" .. str(max label)``."""
        samples = read_list_file(list_file, root, check_files=check_files)
        if classes is None:
            classes = [str(i) for i in range(max(label for _, label in samples) + 1)]
        return cls(samples, classes, **kwargs)

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor([label for _, label in self.samples], dtype=torch.int64)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices: Sequence[int] | torch.Tensor, *, train: bool | None = None) -> ImageFolderDataset:
        """A dataset over ``samples[indices]``, optionally switching train/eval transforms."""
        idx = indices.tolist() if isinstance(indices, torch.Tensor) else list(indices)
        picked = [self.samples[i] for i in idx]
        return ImageFolderDataset(picked, self.classes, train=self.train if train is None else train, **self.options)

    def __len__(self) -> int:
        return len(self.samples)

    def _open(self, path: Path) -> Image.Image:
        try:
            with Image.open(path) as img:
                return img.convert(self.options["mode"])
        except FileNotFoundError:
            raise FileNotFoundError(f"image {path} disappeared after the dataset was indexed") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"cannot decode image {path}: {exc}") from None

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, sample_seed = (key if isinstance(key, tuple) else (key, None))
        path, label = self.samples[int(index)]
        img = self._open(path)
        opts = self.options
        if self.train:
            if sample_seed is None:  # plain indexing: fixed per sample, varies with dataset seed
                sample_seed = derive_seed(opts["seed"], int(index))
            gen = torch.Generator().manual_seed(int(sample_seed))
            img = train_transform(img, opts["image_size"], gen, scale=opts["scale"],
                                  ratio=opts["ratio"], flip=opts["flip"])  # fmt: skip
        else:
            img = eval_transform(img, opts["image_size"], opts["resize_size"])
        return to_uint8_tensor(img), label

"""ImageFolder trees and list files of small PNGs the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hwnas.data import BatchSource, DatasetLoader, ImageFolderDataset, make_loaders, read_list_file, scan_folder
from hwnas.data.image_transforms import random_resized_crop_box

CLASSES = ("cat", "dog", "fish")


def _png(path: Path, size=(40, 30), value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _tree(root: Path, per_class: int = 3) -> Path:
    for c, name in enumerate(CLASSES):
        for i in range(per_class):
            _png(root / name / f"img{i}.png", size=(40 + 3 * i, 30), value=10 * c + i)
    return root


def test_scan_folder(tmp_path):
    samples, classes = scan_folder(_tree(tmp_path / "t"))
    assert classes == CLASSES and len(samples) == 9
    assert [label for _, label in samples] == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_eval_and_train_views(tmp_path):
    ds = ImageFolderDataset.from_folder(_tree(tmp_path / "t"), image_size=16)
    x, y = ds[4]
    assert x.shape == (3, 16, 16) and x.dtype == torch.uint8 and y == 1
    assert torch.equal(ds[4][0], x)  # eval is deterministic
    train = ds.subset(range(len(ds)), train=True)
    a, b, c = train[(4, 123)][0], train[(4, 123)][0], train[(4, 124)][0]
    assert a.shape == (3, 16, 16) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(ds.labels, torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2]))


def test_empty_root_and_empty_class_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        scan_folder(tmp_path / "empty")
    root = _tree(tmp_path / "t")
    (root / "zebra").mkdir()
    (root / "zebra" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="zebra contains no images"):
        scan_folder(root)
    with pytest.raises(FileNotFoundError, match="missing"):
        scan_folder(tmp_path / "missing")


def test_list_file(tmp_path):
    _tree(tmp_path)
    lst = tmp_path / "train.txt"
    lst.write_text("# comment\ncat/img0.png 0\n\ndog/img1.png 1\nfish/img2.png 2\n")
    samples = read_list_file(lst)
    assert [(p.name, label) for p, label in samples] == [("img0.png", 0), ("img1.png", 1), ("img2.png", 2)]
    ds = ImageFolderDataset.from_list_file(lst, image_size=8)
    assert ds.classes == ("0", "1", "2") and ds[2][0].shape == (3, 8, 8)


@pytest.mark.parametrize("bad", ["cat/img0.png", "cat/img0.png dog", "cat/img0.png -1"])
def test_list_file_bad_line_names_line_number(tmp_path, bad):
    _tree(tmp_path)
    lst = tmp_path / "list.txt"
    lst.write_text(f"cat/img0.png 0\n\n{bad}\n")
    with pytest.raises(ValueError, match=r"list\.txt:3"):
        read_list_file(lst)


def test_list_file_missing_image_names_line_number(tmp_path):
    _tree(tmp_path)
    lst = tmp_path / "list.txt"
    lst.write_text("cat/img0.png 0\ncat/nope.png 0\n")
    with pytest.raises(FileNotFoundError, match=r"list\.txt:2.*nope\.png"):
        read_list_file(lst)
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        read_list_file(tmp_path / "absent.txt")
    (tmp_path / "blank.txt").write_text("\n# only comments\n")
    with pytest.raises(ValueError, match="blank.txt"):
        read_list_file(tmp_path / "blank.txt")


def test_undecodable_image_names_file(tmp_path):
    root = _tree(tmp_path / "t")
    (root / "cat" / "broken.png").write_bytes(b"not a png")
    ds = ImageFolderDataset.from_folder(root, image_size=8)
    broken = [i for i, (p, _) in enumerate(ds.samples) if p.name == "broken.png"][0]
    with pytest.raises(ValueError, match="broken.png"):
        ds[broken]


def test_dataset_loader_resume_and_protocol(tmp_path):
    ds = ImageFolderDataset.from_folder(_tree(tmp_path / "t"), image_size=12, train=True)
    loader = DatasetLoader(ds, 4, shuffle=True, seed=3, mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    assert isinstance(loader, BatchSource) and len(loader) == 3
    full = list(loader.epoch_batches(1))
    assert [x.shape for x, _ in full] == [(4, 3, 12, 12), (4, 3, 12, 12), (1, 3, 12, 12)]
    assert sorted(torch.cat([y for _, y in full]).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for start in range(4):
        resumed = list(loader.epoch_batches(1, start=start))
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(resumed, full[start:]))
        assert len(resumed) == 3 - start
    other = list(loader.epoch_batches(2))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(other, full))


def test_registry_imagefolder(tmp_path):
    _tree(tmp_path / "root" / "train", per_class=4)
    _tree(tmp_path / "root" / "val", per_class=1)
    loaders = make_loaders(f"imagefolder:{tmp_path / 'root'}", 4, seed=0, val_fraction=0.25, image_size=8)
    assert loaders.info.classes == CLASSES and loaders.info.num_classes == 3
    assert (len(loaders.train), len(loaders.val), len(loaders.test)) == (3, 1, 1)
    x, y = next(loaders.test.epoch_batches(0))
    assert x.shape == (3, 3, 8, 8) and x.dtype == torch.float32 and y.tolist() == [0, 1, 2]
    _tree(tmp_path / "no_val" / "train", per_class=1)
    with pytest.raises(FileNotFoundError, match="val/, test/"):
        make_loaders(f"imagefolder:{tmp_path / 'no_val'}", 4)
    with pytest.raises(FileNotFoundError, match="train/ or train.txt"):
        make_loaders(f"imagefolder:{tmp_path / 'root' / 'train'}", 4)


@settings(max_examples=60, deadline=None)
@given(w=st.integers(1, 300), h=st.integers(1, 300), seed=st.integers(0, 2**31))
def test_random_resized_crop_box_inside_image(w, h, seed):
    left, top, right, bottom = random_resized_crop_box(w, h, torch.Generator().manual_seed(seed))
    assert 0 <= left < right <= w and 0 <= top < bottom <= h


def test_dataset_loader_same_batches_with_workers(tmp_path):
    ds = ImageFolderDataset.from_folder(_tree(tmp_path / "t"), image_size=8, train=True)
    serial = DatasetLoader(ds, 4, seed=5, num_workers=0)
    parallel = DatasetLoader(ds, 4, seed=5, num_workers=2)
    a, b = list(serial.epoch_batches(0, start=1)), list(parallel.epoch_batches(0, start=1))
    assert len(a) == len(b) == 2
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))


def test_registry_imagefolder_list_files(tmp_path):
    root = _tree(tmp_path / "root")
    (root / "train.txt").write_text("cat/img0.png 0\ncat/img1.png 0\ndog/img0.png 1\nfish/img0.png 2\n")
    (root / "val.txt").write_text("dog/img2.png 1\n")
    loaders = make_loaders(f"imagefolder:{root}", 2, seed=0, image_size=8)
    assert loaders.info.num_classes == 3 and len(loaders.train) == 2
    assert [y.tolist() for _, y in loaders.test.epoch_batches(0)] == [[1]]

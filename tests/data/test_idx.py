"""IDX parsing: hand-written files (gz and raw), corrupt inputs, the real Fashion-MNIST."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from hwnas.data.idx import parse_idx, read_idx, write_idx

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes_uint8(array: np.ndarray) -> bytes:
    """IDX bytes written by hand from the spec, independent of our writer."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("compressed", [False, True])
def test_reads_hand_written_uint8(tmp_path, compressed):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes_uint8(array)
    path = tmp_path / ("x.idx.gz" if compressed else "x.idx")
    path.write_bytes(gzip.compress(data) if compressed else data)
    out = read_idx(path, ndim=3)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


def test_reads_big_endian_int32(tmp_path):
    values = [1, -2, 70000]
    data = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + struct.pack(">3i", *values)
    path = tmp_path / "labels.idx"
    path.write_bytes(data)
    assert read_idx(path).tolist() == values


def test_gzip_detected_by_content_not_suffix(tmp_path):
    array = np.arange(5, dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"  # gzipped data under a raw name
    path.write_bytes(gzip.compress(idx_bytes_uint8(array)))
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", [".idx", ".idx.gz"])
def test_write_read_roundtrip(tmp_path, dtype, suffix):
    array = (np.arange(24) - 5).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / f"a{suffix}", array)
    assert path.read_bytes().startswith(b"\x1f\x8b") == suffix.endswith(".gz")
    np.testing.assert_array_equal(read_idx(path), array)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left


def _corruptions() -> dict[str, bytes]:
    good = idx_bytes_uint8(np.zeros((3, 4, 4), dtype=np.uint8))
    return {
        "truncated data": good[:-5],
        "trailing bytes": good + b"\x00",
        "bad magic": b"\x01" + good[1:],
        "unknown dtype": good[:2] + b"\x07" + good[3:],
        "truncated header": good[:9],
        "empty": b"",
    }


@pytest.mark.parametrize("kind", list(_corruptions()))
def test_corrupt_file_raises_value_error_naming_file(tmp_path, kind):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(_corruptions()[kind])
    with pytest.raises(ValueError, match="broken-idx3-ubyte"):
        read_idx(path)


def test_truncated_gzip_raises_value_error(tmp_path):
    path = tmp_path / "cut.gz"
    images = np.random.default_rng(0).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    data = gzip.compress(idx_bytes_uint8(images))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(path)


def test_wrong_ndim_raises(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(idx_bytes_uint8(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="expected 3"):
        read_idx(path, ndim=3)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.gz"):
        read_idx(tmp_path / "nope.gz")


def test_parse_idx_names_source():
    with pytest.raises(ValueError, match="my-source"):
        parse_idx(b"\x00\x00\x08", "my-source")


@pytest.mark.skipif(not REAL_DIR.is_dir(), reason=f"Fashion-MNIST not installed at {REAL_DIR}")
def test_real_fashion_mnist_loads():
    from hwnas.data import load_fashion_mnist

    train_x, train_y = load_fashion_mnist("train", data_dir=REAL_DIR)
    test_x, test_y = load_fashion_mnist("test", data_dir=REAL_DIR)
    assert train_x.shape == (60000, 1, 28, 28) and test_x.shape == (10000, 1, 28, 28)
    assert train_x.dtype.is_floating_point is False and str(train_x.dtype) == "torch.uint8"
    assert train_y.bincount().tolist() == [6000] * 10
    assert test_y.bincount().tolist() == [1000] * 10

"""Read and write IDX files (the MNIST / Fashion-MNIST format), gzipped or raw.

Layout: two zero bytes, a dtype code, the number of dims, then one big-endian
uint32 per dim, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from hwnas.fileio import write_bytes_atomic

# IDX dtype code -> big-endian numpy dtype.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the file starts with the gzip magic."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    # Sniff the content rather than trusting the ".gz" suffix: some mirrors
    # ship raw files under .gz names and vice versa.
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(
            f"corrupt or truncated gzip IDX file {path}: {exc}. "
            "Delete it and download or copy it again."
        ) from None


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into a native-endian numpy array; ValueError naming ``source``."""
    fix = "Delete it and download or copy it again."
    if len(data) < 4:
        raise ValueError(f"IDX file {source} is too short ({len(data)} bytes) for a header. {fix}")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or code not in _CODE_TO_DTYPE or ndim == 0:
        raise ValueError(
            f"IDX file {source} has a bad magic number 0x{data[:4].hex()} "
            f"(expected 0x0000 + dtype code in {sorted(hex(c) for c in _CODE_TO_DTYPE)} "
            f"+ ndim >= 1). {fix}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"IDX file {source} is truncated inside its {ndim}-dim header. {fix}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _CODE_TO_DTYPE[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        kind = "truncated" if actual < expected else "has trailing bytes"
        raise ValueError(
            f"IDX file {source} {kind}: dims {tuple(dims)} need {expected} data bytes, "
            f"found {actual}. {fix}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str], *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gz or raw). ``ndim`` optionally checks the number of dims."""
    path = Path(path)
    array = parse_idx(_read_bytes(path), str(path))
    if ndim is not None and array.ndim != ndim:
        raise ValueError(
            f"IDX file {path} has {array.ndim} dims {array.shape}, expected {ndim}. "
            "Is it the right file (images are 3-dim, labels 1-dim)?"
        )
    return array


def encode_idx(array: np.ndarray) -> bytes:
    """Serialise ``array`` to IDX bytes."""
    array = np.asarray(array)
    for code, dtype in _CODE_TO_DTYPE.items():
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize:
            break
    else:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use uint8, int8/16/32, float32/64")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1..255 dims, got an array of shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write ``array`` as IDX atomically; gzip when ``compress`` (default: path ends in .gz)."""
    path = Path(path)
    data = encode_idx(array)
    if compress if compress is not None else path.suffix == ".gz":
        # mtime=0 keeps the bytes (and so checksums) reproducible.
        data = gzip.compress(data, mtime=0)
    return write_bytes_atomic(path, data)

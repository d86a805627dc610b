"""A pickle loader that only rebuilds plain containers and numpy arrays.

CIFAR's python batches are pickles. A plain ``pickle.load`` would run any
callable a tampered file names (``os.system`` ...), so ``find_class`` here
resolves only an explicit allow-list of harmless constructors.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import IO, Any

import numpy as np

__all__ = ["UnsafePickleError", "RestrictedUnpickler", "safe_load", "safe_loads"]


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """The pickle references a global outside the allow-list."""


def _numpy_core(submodule: str, name: str) -> Any:
    # numpy 2 moved numpy.core to numpy._core; pickles from either era name
    # either module, and importing numpy.core on numpy 2 warns.
    for prefix in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{prefix}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    raise UnsafePickleError(f"numpy has no {submodule}.{name}")


def _allowed() -> dict[tuple[str, str], Any]:
    table: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Python 3 writes bytes as _codecs.encode(str, "latin1") in protocol <= 2.
        ("_codecs", "encode"): __import__("_codecs").encode,
        ("builtins", "bytearray"): bytearray,
        ("__builtin__", "bytearray"): bytearray,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _numpy_core("multiarray", "_reconstruct")
        table[(f"{core}.multiarray", "scalar")] = _numpy_core("multiarray", "scalar")
        table[(f"{core}.numeric", "_frombuffer")] = _numpy_core("numeric", "_frombuffer")
    return table


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` allows only numpy array reconstruction."""

    _ALLOWED = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle global {module}.{name}: only numpy arrays, dicts, "
                "lists and bytes are allowed in dataset files"
            ) from None


def safe_load(handle: IO[bytes], *, encoding: str = "bytes") -> Any:
    """Load one pickle from ``handle`` with :class:`RestrictedUnpickler`.

    ``encoding="bytes"`` is what Python-2 era pickles (CIFAR) need: their str
    keys come back as bytes (``b"data"``) instead of being mis-decoded.
    """
    return RestrictedUnpickler(handle, encoding=encoding).load()


def safe_loads(data: bytes, *, encoding: str = "bytes") -> Any:
    """:func:`safe_load` for an in-memory bytes object."""
    return safe_load(io.BytesIO(data), encoding=encoding)

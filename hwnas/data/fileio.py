"""Atomic file writing and the dataset cache directory."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ENV_CACHE = "HWNAS_CACHE"


def default_cache_dir() -> Path:
    """``$HWNAS_CACHE`` if set, else ``~/.cache/hwnas``."""
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "hwnas"


def temp_path_in(directory: Path, name: str) -> Path:
    """Create an empty temp file next to ``name`` in ``directory`` and return its path.

    It must live in the same directory as the destination so ``os.replace``
    stays a same-filesystem rename, which is what makes it atomic.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temp file for writing; on clean exit rename it onto ``path``.

    If the block raises, the temp file is removed and ``path`` is untouched,
    so readers never see a half-written file.
    """
    if "w" not in mode:
        raise ValueError(f"atomic_open needs a write mode like 'wb' or 'w', got {mode!r}")
    dest = Path(path)
    tmp = temp_path_in(dest.parent, dest.name)
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes 0600 files; datasets in a shared cache should be readable.
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)

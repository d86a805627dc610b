"""Atomic file writes: a reader (or a crash, even SIGKILL or power loss) never sees a half-written file.

Every writer here follows one recipe: write to a temporary file in the destination's directory (same file
system, so ``os.replace`` is an atomic rename), flush and fsync it, rename it over the target, then fsync the
directory so the rename itself is durable. On any failure the temporary file is removed and the previous version
of the target is left untouched. Temporary names match :data:`TEMP_NAME`, so a directory can be swept of the
leftovers of a killed writer (:func:`remove_stale_temp_files`).

Under ``torchrun`` only rank 0 writes: on the other ranks these functions accept the data and discard it, so that
N processes running the same code leave one set of files, written once (:mod:`hwnas.distributed`).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMP_NAME = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$")
"""Names of our temporary files: ``.<target name>.<pid>.<8 hex>.tmp``."""


@contextlib.contextmanager
def _temp_beside(dest: Path) -> Iterator[tuple[Path, int]]:
    """Yield ``(temp path, open fd)`` beside ``dest``; on a clean exit fsync it and rename it onto ``dest``.

    An OS error (disk full, read-only file system, no permission) is re-raised as the same kind of ``OSError``
    whose message names ``dest`` and says that its previous version is untouched.
    """
    with _naming(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        # O_EXCL: never clobber another writer's file. 0o666 lets the umask decide permissions, as for a file
        # opened normally (mkstemp would force 0600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            yield tmp, fd
            _fsync_path(tmp)  # data must be on disk before the rename makes it visible
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_path(dest.parent)  # make the rename itself durable


@contextlib.contextmanager
def _naming(dest: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        if getattr(e, "_hwnas_named", False) or e.errno is None:
            raise
        kept = "its previous version is unchanged" if dest.exists() else "nothing was written"
        named = OSError(e.errno, f"cannot write {dest}: {e.strerror or e} ({kept})")
        named._hwnas_named = True  # type: ignore[attr-defined]  # nested writers name the file once
        raise named from e


def _fsync_path(path: Path) -> None:
    # Some platforms and file systems cannot open a directory for fsync; durability is best effort there.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _writes_files() -> bool:
    from hwnas.distributed import is_main  # local: fileio is imported by modules that distributed must not need

    return is_main()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; on a clean exit of the block it atomically becomes ``path``."""
    if "w" not in mode or "+" in mode:
        raise ValueError(f"atomic_open needs a plain write mode ('wb' or 'w'), got {mode!r}")
    if not _writes_files():
        yield io.BytesIO() if "b" in mode else io.StringIO()
        return
    with _temp_beside(Path(path)) as (_, fd), os.fdopen(fd, mode) as handle:
        yield handle


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for libraries that write by file name (ONNX, TorchScript).

    On a clean exit the file at the yielded path is fsynced and atomically renamed to ``path``.
    """
    if not _writes_files():
        with tempfile.TemporaryDirectory() as scratch:
            yield Path(scratch) / Path(path).name
        return
    with _temp_beside(Path(path)) as (tmp, fd):
        os.close(fd)
        yield tmp


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``; returns the path."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically replace ``path`` with UTF-8 ``text``; returns the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def finite(data: Any) -> Any:
    """``data`` with NaN/inf floats replaced by None (JSON has neither)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Atomically replace ``path`` with ``data`` as indented JSON, non-finite floats written as null."""
    write_text_atomic(path, json.dumps(finite(data), indent=2, allow_nan=False) + "\n")


def remove_stale_temp_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files a killed writer left in ``directory``; returns what was removed.

    Only call this when no other process writes to ``directory`` (under torchrun: rank 0 only; a no-op elsewhere).
    """
    if not _writes_files():
        return []
    removed = []
    for tmp in Path(directory).glob(".*.tmp"):
        if TEMP_NAME.match(tmp.name) and tmp.is_file():
            tmp.unlink()
            removed.append(tmp)
    return removed

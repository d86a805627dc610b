"""Safe extraction of dataset tarballs."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath


def check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Reject members that could write outside the target or are not plain files/dirs."""
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise ValueError(
            f"refusing to extract {archive}: member {name!r} has an absolute path or '..'. "
            "The archive is corrupt or malicious; delete it and download it again."
        )
    if not (member.isfile() or member.isdir()):
        raise ValueError(
            f"refusing to extract {archive}: member {name!r} is a link or special file; "
            "dataset archives contain only files and directories."
        )


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[Path]:
    """Extract ``archive`` into ``dest`` after checking every member; return top-level paths.

    Extraction goes to a temp dir inside ``dest`` and each top-level entry is
    renamed into place, so an interrupted run never leaves a half-filled
    dataset directory that a later run would mistake for a complete one.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".extract-"))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                for member in members:
                    check_member(member, archive)
                # The "data" filter (Python >= 3.11.4) is a second line of defence.
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(tmp, members=members, **extra)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            if isinstance(exc, FileNotFoundError) and not archive.exists():
                raise FileNotFoundError(f"archive not found: {archive}") from None
            raise ValueError(
                f"cannot extract {archive} into {dest}: {exc}. If the archive is corrupt or "
                "truncated, delete it and download it again."
            ) from None
        return _move_entries(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_entries(tmp: Path, dest: Path) -> list[Path]:
    moved = []
    for entry in sorted(tmp.iterdir()):
        target = dest / entry.name
        # An existing target was renamed in whole by an earlier or concurrent
        # extraction, so it is complete: keep it, and drop our copy with tmp.
        if not target.exists():
            os.replace(entry, target)
        moved.append(target)
    return moved

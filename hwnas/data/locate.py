"""Where datasets are looked for, in order, and the error when they are not found."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "HWNAS_DATA"
ENV_CACHE = "HWNAS_CACHE"
# Where OS packages (e.g. `apt-get install dataset-fashion-mnist`) put datasets.
# A module constant so tests and unusual installs can point it elsewhere.
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")


def default_cache_dir() -> Path:
    """Where downloads are cached: ``$HWNAS_CACHE`` if set, else ``~/.cache/hwnas``."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hwnas"


def candidate_dirs(subdir: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Directories to search for dataset ``subdir``, most specific first.

    Order: ``data_dir`` (and ``data_dir/subdir``), ``$HWNAS_DATA`` (and
    ``$HWNAS_DATA/subdir``), ``SYSTEM_DATA_ROOT/subdir``, ``<cache>/subdir``.
    """
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        # An explicit directory that is not there is a typo, not a request to look elsewhere (a download, which
        # catches this error, creates it).
        raise FileNotFoundError(f"data directory {data_dir} does not exist (--data-dir / data_dir)")
    dirs: list[Path] = []
    for root in (data_dir, os.environ.get(ENV_DATA) or None):
        if root is not None:
            root = Path(root).expanduser()
            dirs += [root, root / subdir]
    dirs += [SYSTEM_DATA_ROOT / subdir, default_cache_dir() / subdir]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def download_dir(subdir: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where downloads go: the explicit ``data_dir`` if given, else ``<cache>/subdir``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return default_cache_dir() / subdir


def not_found(what: str, looked_in: list[Path], hint: str = "") -> FileNotFoundError:
    """A FileNotFoundError listing every place searched and how to fix it."""
    places = ", ".join(str(p) for p in looked_in)
    fixes = f"{hint + ', ' if hint else ''}pass --data-dir / data_dir, set {ENV_DATA}, or pass download=True"
    return FileNotFoundError(f"{what} not found; looked in: {places}. {fixes[0].upper()}{fixes[1:]}.")

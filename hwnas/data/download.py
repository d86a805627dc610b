"""Download files over HTTP(S) with a progress bar, atomic writes and checksums."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from hwnas.data.locate import default_cache_dir
from hwnas.fileio import atomic_open

__all__ = ["DownloadError", "default_cache_dir", "download", "file_digest", "join_url"]

_CHUNK = 1 << 16


class DownloadError(OSError):
    """The server could not be reached or answered with an error."""


def join_url(base_url: str, name: str) -> str:
    """``base_url`` + ``/`` + ``name`` without doubling slashes."""
    return base_url.rstrip("/") + "/" + name


def file_digest(path: str | os.PathLike[str], algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks so large archives do not fill memory."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected(md5: str | None, sha256: str | None) -> dict[str, str]:
    return {algo: value.lower() for algo, value in (("md5", md5), ("sha256", sha256)) if value}


def _matches(path: Path, expected: dict[str, str]) -> bool:
    return all(file_digest(path, algo) == value for algo, value in expected.items())


def _resolve_dest(url: str, dest: str | os.PathLike[str]) -> Path:
    dest = Path(dest).expanduser()
    if dest.is_dir():
        name = Path(urlsplit(url).path).name
        if not name:
            raise ValueError(f"cannot derive a file name from URL {url!r}; pass a file path as dest")
        dest = dest / name
    return dest


def _stream(url: str, handle, digests: dict, timeout: float, progress: bool) -> None:
    """Copy the response body into ``handle``, hashing as it goes."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0) or None
            name = Path(urlsplit(url).path).name
            with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    handle.write(chunk)
                    for digest in digests.values():
                        digest.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as exc:
        raise DownloadError(
            f"could not download {url}: {exc}. Check the URL and the network, or copy the "
            "file into the data directory by hand."
        ) from exc


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    md5: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` (a file path, or a directory to put it in).

    An existing file whose checksums match is reused. The body is written to a
    temp file in the same directory and renamed into place only after every
    given checksum matched; on a mismatch nothing is left behind and
    ValueError is raised.
    """
    dest = _resolve_dest(url, dest)
    expected = _expected(md5, sha256)
    if dest.is_file():
        if _matches(dest, expected):
            return dest
        dest.unlink()  # stale or corrupt copy: fetch it again
    digests = {algo: hashlib.new(algo) for algo in expected}
    with atomic_open(dest, "wb") as handle:
        _stream(url, handle, digests, timeout, progress)
        for algo, value in expected.items():
            got = digests[algo].hexdigest()
            if got != value:
                # Raising inside atomic_open deletes the temp file: no bad file stays.
                raise ValueError(
                    f"{algo} checksum mismatch for {url}: expected {value}, got {got}. "
                    f"Nothing was written to {dest}; retry, or check the URL / base_url."
                )
    return dest

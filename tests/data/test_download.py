"""download(): a real local HTTP server, checksums, atomic writes, cache reuse."""

from __future__ import annotations

import hashlib

import pytest

from hwnas.data import DownloadError, default_cache_dir, download


def _serve(root, name: str, payload: bytes) -> str:
    (root / name).write_bytes(payload)
    return hashlib.md5(payload).hexdigest()


def test_download_verifies_md5_and_sha256(http_server, tmp_path):
    root, base, _ = http_server
    payload = b"hello dataset" * 1000
    md5 = _serve(root, "file.bin", payload)
    sha = hashlib.sha256(payload).hexdigest()
    out = download(base + "file.bin", tmp_path / "dl" / "file.bin", md5=md5, sha256=sha, progress=False)
    assert out.read_bytes() == payload
    assert [p.name for p in out.parent.iterdir()] == ["file.bin"]  # no temp file left


def test_download_into_directory_uses_url_name(http_server, tmp_path):
    root, base, _ = http_server
    _serve(root, "a.gz", b"abc")
    dest = tmp_path / "dir"
    dest.mkdir()
    assert download(base + "a.gz", dest, progress=False) == dest / "a.gz"


@pytest.mark.parametrize("algo", ["md5", "sha256"])
def test_checksum_mismatch_leaves_nothing(http_server, tmp_path, algo):
    root, base, _ = http_server
    _serve(root, "file.bin", b"real content")
    dest_dir = tmp_path / "dl"
    with pytest.raises(ValueError, match=f"{algo} checksum mismatch.*file.bin"):
        download(base + "file.bin", dest_dir / "file.bin", **{algo: "0" * 32}, progress=False)
    assert list(dest_dir.iterdir()) == []


def test_existing_good_file_is_reused(http_server, tmp_path):
    root, base, requests = http_server
    md5 = _serve(root, "f", b"payload")
    download(base + "f", tmp_path / "f", md5=md5, progress=False)
    download(base + "f", tmp_path / "f", md5=md5, progress=False)
    assert len(requests) == 1


def test_existing_corrupt_file_is_replaced(http_server, tmp_path):
    root, base, requests = http_server
    md5 = _serve(root, "f", b"payload")
    (tmp_path / "f").write_bytes(b"garbage")
    assert download(base + "f", tmp_path / "f", md5=md5, progress=False).read_bytes() == b"payload"
    assert len(requests) == 1


def test_http_404_raises_download_error(http_server, tmp_path):
    _, base, _ = http_server
    with pytest.raises(DownloadError, match="missing.bin"):
        download(base + "missing.bin", tmp_path / "out" / "missing.bin", progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_unreachable_server_raises_download_error(tmp_path):
    with pytest.raises(DownloadError, match="could not download"):
        download("http://127.0.0.1:9/x", tmp_path / "x", progress=False, timeout=2)


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HWNAS_CACHE")
    assert default_cache_dir().parts[-2:] == (".cache", "hwnas")

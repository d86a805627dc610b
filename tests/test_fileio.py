"""Atomic writes (hwnas.fileio): the target is either the old or the new file, never a torn one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwnas.fileio import (
    TEMP_NAME,
    atomic_open,
    atomic_path,
    remove_stale_temp_files,
    write_bytes_atomic,
    write_text_atomic,
)


def test_write_replaces_content_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.txt"
    write_text_atomic(target, "old")
    write_text_atomic(target, "new ünïcode")
    assert target.read_text(encoding="utf-8") == "new ünïcode"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_failure_inside_block_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    target = write_bytes_atomic(tmp_path / "a.bin", b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target, "wb") as f:
            f.write(b"half of the new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_path_for_writers_that_take_a_file_name(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and TEMP_NAME.match(tmp.name)
        tmp.write_bytes(b"graph")
        assert not target.exists()  # invisible until the block ends
    assert target.read_bytes() == b"graph"
    with pytest.raises(KeyError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"broken")
            raise KeyError("x")
    assert target.read_bytes() == b"graph"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_read_modes_are_refused(tmp_path: Path) -> None:
    for mode in ("rb", "r+b", "ab"):
        with pytest.raises(ValueError, match="write mode"):
            with atomic_open(tmp_path / "x", mode):
                pass


def test_stale_temp_sweep_removes_only_our_temp_files(tmp_path: Path) -> None:
    ours = tmp_path / f".last.pt.{os.getpid()}.deadbeef.tmp"
    theirs = tmp_path / ".other.tmp"
    keep = tmp_path / "last.pt"
    for p in (ours, theirs, keep):
        p.write_bytes(b"x")
    assert remove_stale_temp_files(tmp_path) == [ours]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp", "last.pt"]


def test_permissions_follow_the_umask_not_mkstemp(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "shared.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644

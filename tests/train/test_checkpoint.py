import os
import pickle
from pathlib import Path

import pytest
import torch

from hwnas.train import latest_checkpoint, load_checkpoint, save_checkpoint
from hwnas.fileio import remove_stale_temp_files


def _state(value: float) -> dict:
    return {"model": {"w": torch.full((64, 64), value)}, "step": 3, "config": {"lr": 0.1, "ema_decay": None}}


def test_round_trip_and_latest(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "missing") is None
    save_checkpoint(tmp_path / "last.pt", _state(1.0))
    loaded = load_checkpoint(tmp_path / "last.pt")
    assert torch.equal(loaded["model"]["w"], torch.full((64, 64), 1.0)) and loaded["step"] == 3
    assert latest_checkpoint(tmp_path) == tmp_path / "last.pt"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp files left behind


def test_failed_save_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, _state(1.0))
    before = path.read_bytes()

    def half_save(obj: object, f: object, *args: object, **kwargs: object) -> None:
        f.write(b"PK\x03\x04 partial checkpoint bytes")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", half_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _state(2.0))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.full((64, 64), 1.0))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_save_into_read_only_directory_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, _state(1.0))
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            save_checkpoint(path, _state(2.0))
    finally:
        tmp_path.chmod(0o700)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.full((64, 64), 1.0))


def test_stale_temp_files_from_a_killed_writer_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".last.pt.1234.deadbeef.tmp").write_bytes(b"torn")
    (tmp_path / ".keep-me.tmp").write_bytes(b"not ours")
    removed = remove_stale_temp_files(tmp_path)
    assert [p.name for p in removed] == [".last.pt.1234.deadbeef.tmp"]
    assert (tmp_path / ".keep-me.tmp").exists()


@pytest.mark.parametrize("keep", [0, 10, 200, 0.5, -5])
def test_truncated_checkpoint_raises_value_error_naming_file(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, _state(1.0))
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match="last.pt"):
        load_checkpoint(path)


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(os.urandom(1000))
    with pytest.raises(ValueError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="expected a dict"):
        load_checkpoint(tmp_path / "list.pt")


class _Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("fmt", ["torch_zip", "raw_pickle"])
def test_weights_only_refuses_code_execution(tmp_path: Path, fmt: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"model": {}, "hook": _Evil(marker)}
    if fmt == "torch_zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(ValueError, match="evil.pt"):
        load_checkpoint(path)
    assert not marker.exists()


def test_save_creates_missing_directories_and_rejects_non_dicts(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "new_dir" / "last.pt", _state(1.0))
    assert load_checkpoint(tmp_path / "new_dir" / "last.pt")["step"] == _state(1.0)["step"]
    with pytest.raises(ValueError, match="dict"):
        save_checkpoint(tmp_path / "x.pt", [1, 2])  # type: ignore[arg-type]

"""The restricted unpickler loads numpy batches and refuses everything else."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from hwnas.data import load_cifar
from hwnas.data.cifar import CIFAR10
from hwnas.data.safe_pickle import UnsafePickleError, safe_loads

from .fakes import make_fake_cifar_archive


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_refuses_os_system(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _RunsCommand(f"touch {marker}")}, protocol=2)
    with pytest.raises(UnsafePickleError, match="system"):
        safe_loads(payload)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_refuses_eval(protocol):
    with pytest.raises(pickle.UnpicklingError, match="eval"):
        safe_loads(pickle.dumps([_CallsEval()], protocol=protocol))


def test_unsafe_error_is_a_value_error():
    with pytest.raises(ValueError):
        safe_loads(pickle.dumps(_CallsEval()))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_loads_numpy_batches(protocol):
    batch = {
        b"data": np.arange(12, dtype=np.uint8).reshape(2, 6),
        b"labels": [1, np.int64(2)],
        b"name": b"batch",
        b"raw": bytearray(b"xy"),
        b"floats": np.linspace(0, 1, 3),
    }
    out = safe_loads(pickle.dumps(batch, protocol=protocol))
    np.testing.assert_array_equal(out[b"data"], batch[b"data"])
    assert out[b"labels"] == [1, 2] and out[b"name"] == b"batch" and out[b"raw"] == b"xy"
    np.testing.assert_allclose(out[b"floats"], batch[b"floats"])


def test_cifar_loader_refuses_malicious_batch(tmp_path, no_system_data):
    archive = tmp_path / "data" / CIFAR10.archive
    make_fake_cifar_archive(archive, CIFAR10)
    load_cifar("cifar10", "test", data_dir=archive.parent)  # extracts the archive
    batch = archive.parent / CIFAR10.folder / "test_batch"
    batch.write_bytes(pickle.dumps({b"data": _RunsCommand("true")}, protocol=2))
    with pytest.raises(ValueError, match="test_batch"):
        load_cifar("cifar10", "test", data_dir=archive.parent)

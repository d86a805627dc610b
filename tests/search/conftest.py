"""Shared fixtures for the search tests: the tiny YAML space, a fake-timed latency table, fake Fashion-MNIST."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwnas.cost.latency.build import build_space_table
from hwnas.space import get_space
from tests.cost.tiny import FakeBackend, tiny_space
from tests.data.fakes import make_fake_fashion

TINY_YAML = str(Path(__file__).with_name("tiny_space.yaml"))


@pytest.fixture(scope="session")
def tiny():
    """The 16-px latency-test space: few enough choices to enumerate (its costs are exact references)."""
    return tiny_space()


@pytest.fixture(scope="session")
def tiny_table(tmp_path_factory, tiny):
    path = tmp_path_factory.mktemp("lut") / "tiny.json"
    return build_space_table(tiny, path, backend=FakeBackend(), width_grid=3, warmup=0, rounds=2,
                             progress=False).table


@pytest.fixture(scope="session")
def search_space():
    """The tiny search space at Fashion-MNIST geometry."""
    return get_space(TINY_YAML, 28, 1, 10)


@pytest.fixture(scope="session")
def search_lut(tmp_path_factory, search_space) -> Path:
    """A real ONNX Runtime table of the tiny search space (48 ops, a few seconds)."""
    path = tmp_path_factory.mktemp("lut") / "tiny_search.json"
    build_space_table(search_space, path, warmup=1, rounds=3, progress=False)
    return path


@pytest.fixture(scope="session")
def fashion_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("fashion")
    make_fake_fashion(directory, n_train=320, n_test=64)
    return directory


@pytest.fixture(scope="session")
def learn_dir(tmp_path_factory) -> Path:
    """More learnable fake images, for the tests that need a search to learn something (8 steps per epoch at
    batch 64 on the 80 % weight split)."""
    directory = tmp_path_factory.mktemp("learn")
    make_fake_fashion(directory, n_train=640, n_test=64)
    return directory


@pytest.fixture(scope="session")
def fake_lut(tmp_path_factory, search_space) -> Path:
    """A deterministic table of the tiny search space (an op 'times' at (parameters + 1) / 1000 ms): searches
    that must reach the same decision on every machine cannot depend on this machine's timings."""
    path = tmp_path_factory.mktemp("lut") / "tiny_fake.json"
    build_space_table(search_space, path, backend=FakeBackend(), warmup=0, rounds=1, progress=False)
    return path

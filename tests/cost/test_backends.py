"""Latency backends are classes that declare what they can do; a new one is a class and its registration."""

import pytest

from hwnas.cost.latency import backends
from hwnas.cost.latency.backends import (
    Backend, CudaBackend, OnnxRuntimeBackend, OnnxRuntimeInt8Backend, TorchBackend, backend_class, backend_names,
    get_backend, register_backend,
)
from hwnas.run.preset import load_config

from .tiny import FakeBackend


def test_the_registry_lists_every_built_in_backend_in_order():
    assert backend_names() == ("onnxruntime", "onnxruntime-int8", "torch", "cuda")
    assert [backend_class(n) for n in backend_names()] == [OnnxRuntimeBackend, OnnxRuntimeInt8Backend, TorchBackend,
                                                           CudaBackend]


@pytest.mark.parametrize("name, exported, nulls, graphs, runner, quantized", [
    ("onnxruntime", True, True, True, True, False),
    ("onnxruntime-int8", False, True, True, False, True),
    ("torch", False, False, False, False, False),
    ("cuda", False, False, False, False, False),
])
def test_each_backend_declares_its_capabilities(name, exported, nulls, graphs, runner, quantized):
    cls = backend_class(name)
    assert (cls.times_exported_onnx, cls.has_null_models, cls.has_graph_features, cls.device_runner,
            cls.quantized) == (exported, nulls, graphs, runner, quantized)


def test_an_unknown_name_claims_no_capability_but_cannot_be_made():
    cls = backend_class("fake")  # e.g. a table timed with a backend defined outside hwnas
    assert cls is Backend and not (cls.times_exported_onnx or cls.has_null_models or cls.has_graph_features
                                   or cls.device_runner or cls.quantized)
    with pytest.raises(ValueError, match="unknown latency backend 'fake'; valid: onnxruntime, onnxruntime-int8"):
        get_backend("fake")


def test_a_new_backend_is_one_class_and_its_registration(monkeypatch):
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))  # the registration ends with the test

    @register_backend
    class Toy(FakeBackend):
        name = "toy"
        has_null_models = True

    assert backend_names()[-1] == "toy" and backend_class("toy") is Toy
    assert isinstance(get_backend("toy", 2), Toy) and get_backend("toy", 2).threads == 2
    assert load_config("quick", {"target.backend": "toy"}).target.backend == "toy"  # `hwnas run` accepts it
    with pytest.raises(ValueError, match="already registered"):
        register_backend(type("Other", (FakeBackend,), {"name": "toy"}))

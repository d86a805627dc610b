"""time_models: interleaved rounds after warm-up, median and IQR, real ONNX Runtime / torch timing, backend errors."""

import pytest
import torch
from torch import nn

from hwnas.arch import decode
from hwnas.cost.backends import BACKENDS, BackendUnavailable, OnnxRuntimeBackend, cpu_model, device_info, get_backend
from hwnas.cost.measure import Timing, measure_specs, time_models
from hwnas.export import export_onnx

from .tiny import FakeBackend

TINY_ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s1_e2_c8 | head"


class Tagged(nn.Module):
    def __init__(self, tag: str, width: int = 4) -> None:
        super().__init__()
        self.tag = tag
        self.conv = nn.Conv2d(3, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Probe(nn.Module):
    """Records the torch thread count and grad mode it runs under."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.seen: list[tuple[int, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((torch.get_num_threads(), torch.is_grad_enabled()))
        return self.lin(x)


def test_rounds_are_interleaved_after_warmup():
    fake = FakeBackend()
    models = [Tagged("A"), Tagged("B"), Tagged("C")]
    timings = time_models(models, fake, warmup=2, rounds=3, input_shapes=(3, 4, 4))
    assert fake.calls == ["A", "B", "C"] * 5  # 2 warm-up rounds, then 3 timed rounds, never A A A B B B
    assert [len(t.samples_ms) for t in timings] == [3, 3, 3]


def test_alone_times_each_model_warm_and_on_its_own():
    """order="alone": every model's warm-up and rounds back to back (as it runs deployed), after all are
    prepared; the same samples per model as interleaved."""
    fake = FakeBackend()
    timings = time_models([Tagged("A"), Tagged("B")], fake, warmup=2, rounds=3, input_shapes=(3, 4, 4),
                          order="alone")
    assert fake.calls == ["A"] * 5 + ["B"] * 5
    assert [len(t.samples_ms) for t in timings] == [3, 3] and len(fake.prepared) == 2


def test_number_repeats_calls_within_a_sample():
    fake = FakeBackend()
    time_models([Tagged("A"), Tagged("B")], fake, warmup=0, rounds=2, number=3, input_shapes=(3, 4, 4))
    assert fake.calls == ["A"] * 3 + ["B"] * 3 + ["A"] * 3 + ["B"] * 3


def test_median_and_iqr():
    t = Timing.from_samples([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (t.median_ms, t.iqr_ms) == (3.0, 2.0)
    assert Timing.from_samples([2.5]).iqr_ms == 0.0
    with pytest.raises(ValueError):
        Timing.from_samples([])


def test_onnxruntime_times_modules_and_files(tmp_path):
    small, big = Tagged("s", 2), Tagged("b", 64)
    export_onnx(big, tmp_path / "big.onnx", (1, 3, 16, 16), dynamic_batch=False)
    timings = time_models([small, big, tmp_path / "big.onnx"], "onnxruntime", threads=1, warmup=1, rounds=4,
                          input_shapes=(3, 16, 16))
    assert all(t.median_ms > 0 and t.iqr_ms >= 0 and len(t.samples_ms) == 4 for t in timings)


def test_onnxruntime_settings_are_recorded():
    info = OnnxRuntimeBackend(threads=1).info()
    assert info["backend"] == "onnxruntime" and info["threads"] == 1 and info["backend_version"]
    assert info["backend_options"]["execution_mode"] == "sequential"
    assert info["backend_options"]["graph_optimization"] == "ORT_ENABLE_ALL"
    assert device_info()["cpu_model"] == cpu_model() != ""


def test_onnxruntime_with_two_threads_does_not_spin():
    engine = OnnxRuntimeBackend(threads=2)
    assert engine.info()["backend_options"]["allow_spinning"] is False
    [t] = time_models([Tagged("A", 8)], engine, warmup=1, rounds=2, input_shapes=(3, 8, 8))
    assert t.median_ms > 0


def test_torch_backend_pins_threads_and_restores_them():
    before = torch.get_num_threads()
    probe = Probe()
    [timing] = time_models([probe], "torch", threads=2, warmup=1, rounds=2, input_shapes=(4,))
    assert timing.median_ms > 0
    assert set(probe.seen) == {(2, False)}  # every call: 2 threads, no autograd
    assert torch.get_num_threads() == before


def test_measure_specs_times_whole_networks():
    timings = measure_specs([decode(TINY_ARCH)] * 2, 16, num_classes=10, backend="torch", warmup=0, rounds=2)
    assert len(timings) == 2 and all(t.median_ms > 0 for t in timings)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(BackendUnavailable, match="CUDA GPU"):
        get_backend("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_times_with_events():
    [t] = time_models([Tagged("g", 16)], "cuda", warmup=2, rounds=5, input_shapes=(3, 32, 32))
    assert t.median_ms > 0


@pytest.mark.parametrize("kwargs, match", [
    ({"backend": "tensorrt"}, "unknown latency backend"),
    ({"threads": 0}, "threads"),
    ({"rounds": 0}, "rounds"),
    ({"warmup": -1}, "warmup"),
    ({"batch_size": 0}, "batch_size"),
    ({"order": "random"}, "order must be one of interleaved, alone"),
])
def test_bad_settings_are_errors(kwargs, match):
    args = {"backend": "onnxruntime", "threads": 1, "rounds": 1, "warmup": 0, "batch_size": 1} | kwargs
    with pytest.raises(ValueError, match=match):
        time_models([Tagged("A")], input_shapes=(3, 4, 4), **args)


def test_input_shapes_must_match_models():
    with pytest.raises(ValueError, match="2 input shapes for 1 models"):
        time_models([Tagged("A")], FakeBackend(), input_shapes=[(3, 4, 4), (3, 4, 4)])
    assert BACKENDS == ("onnxruntime", "onnxruntime-int8", "torch", "cuda")

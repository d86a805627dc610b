"""time_models: interleaved rounds after warm-up, median and IQR, real ONNX Runtime / torch timing, backend errors."""

import pytest
import torch
from torch import nn

from hwnas.arch import decode
from hwnas.cost.latency.backends import (
    BACKENDS, BackendUnavailable, OnnxRuntimeBackend, cpu_model, device_info, get_backend,
)
from hwnas.cost.latency.measure import Timing, measure_specs, time_models
from hwnas.workflows.export import export_onnx

from .tiny import FakeBackend

TINY_ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s1_e2_c8 | head"
BIG_ARCH = "act=re se=in | stem_k3_s1_c64 | ir_r1_k3_s1_e6_c64 ir_r1_k3_s1_e6_c64 | head"  # ~700x TINY's MACs

CLEARLY_SLOWER = 3.0
"""The ordering checks compare networks ~700x apart in MACs, timed interleaved in one call. Per-call overhead keeps
the small one from being that much faster: their fastest samples were 20-65x apart here (ONNX Runtime and torch, 2
cores shared with other jobs, load 5). The fastest sample, not the median, carries the factor: preemption only adds
time, and on that load 1 of 30 torch medians of 5 rounds put the small network *above* the big one."""


def timed(t: Timing) -> bool:
    """Samples that come from a clock: positive and not all identical (a real clock hardly ever reads the same
    float twice over a few rounds; a backend that returns a constant does)."""
    return min(t.samples_ms) > 0 and len(set(t.samples_ms)) > 1 and t.median_ms > 0


def clearly_slower(big: Timing, small: Timing) -> bool:
    return min(big.samples_ms) > CLEARLY_SLOWER * min(small.samples_ms)


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


def conv_stack(width: int, depth: int) -> nn.Module:
    """A 3x3 conv from the input to ``width`` channels, then ``depth`` more ``width`` -> ``width`` convs."""
    layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1)]
    for _ in range(depth):
        layers += [nn.ReLU(), nn.Conv2d(width, width, 3, padding=1)]
    return nn.Sequential(*layers)


def test_onnxruntime_times_a_bigger_network_slower_as_module_and_as_file(tmp_path):
    """At 32 px the small net is 0.11 M MACs, the big one 77 M (700x): ONNX Runtime must time the big one clearly
    slower, given as a module and as its exported file alike. (Module and file are not compared with each other:
    on a loaded machine their medians of a few rounds were up to 7x apart.)"""
    small, big = conv_stack(4, 0), conv_stack(64, 2)
    export_onnx(big, tmp_path / "big.onnx", (1, 3, 32, 32), dynamic_batch=False)
    timings = time_models([small, big, tmp_path / "big.onnx"], "onnxruntime", threads=1, warmup=1, rounds=7,
                          input_shapes=(3, 32, 32))
    assert all(timed(t) and t.iqr_ms >= 0 and len(t.samples_ms) == 7 for t in timings), timings
    fast, slow, slow_file = timings
    assert clearly_slower(slow, fast) and clearly_slower(slow_file, fast), timings
    assert slow.median_ms > fast.median_ms and slow_file.median_ms > fast.median_ms, timings


def test_onnxruntime_settings_are_recorded():
    info = OnnxRuntimeBackend(threads=1).info()
    assert info["backend"] == "onnxruntime" and info["threads"] == 1 and info["backend_version"]
    assert info["backend_options"]["execution_mode"] == "sequential"
    assert info["backend_options"]["graph_optimization"] == "ORT_ENABLE_ALL"
    assert device_info()["cpu_model"] == cpu_model() != ""


def test_onnxruntime_with_two_threads_does_not_spin():
    engine = OnnxRuntimeBackend(threads=2)
    assert engine.info()["backend_options"]["allow_spinning"] is False
    [t] = time_models([Tagged("A", 8)], engine, warmup=1, rounds=3, input_shapes=(3, 8, 8))
    assert timed(t), t


def test_torch_backend_pins_threads_and_restores_them():
    before = torch.get_num_threads()
    probe = Probe()
    [timing] = time_models([probe], "torch", threads=2, warmup=1, rounds=3, input_shapes=(4,))
    assert timed(timing), timing
    assert set(probe.seen) == {(2, False)}  # every call: 2 threads, no autograd
    assert torch.get_num_threads() == before


def test_measure_specs_times_whole_networks_bigger_ones_slower():
    """0.16 M against 110 M MACs at 32 px, interleaved on torch (CLEARLY_SLOWER)."""
    small, big = measure_specs([decode(TINY_ARCH), decode(BIG_ARCH)], 32, num_classes=10, backend="torch",
                               warmup=1, rounds=5)
    assert timed(small) and timed(big) and clearly_slower(big, small), (small, big)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(BackendUnavailable, match="CUDA GPU"):
        get_backend("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_times_with_events():
    [t] = time_models([Tagged("g", 16)], "cuda", warmup=2, rounds=5, input_shapes=(3, 32, 32))
    assert timed(t), t


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

"""Latency measurement backends: ONNX Runtime on CPU (the default), PyTorch eager on CPU, PyTorch on CUDA.

A backend turns a model into a zero-argument callable that runs one inference (:meth:`Backend.prepare`), times
``number`` calls of it (:meth:`Backend.time_call`), and says how it is configured (:meth:`Backend.info`) so that
a latency table can record it. :func:`hwnas.cost.latency.measure.time_models` is the only caller that times;
everything that times anything goes through it.

Each backend is one class that declares what it can do (:class:`Backend`'s capability attributes: whether a
deployed network is its exported ONNX file, whether null models and graph features exist for the calibration,
whether the device runner reproduces it, whether its models are quantized) and what a network is timed as when
deployed (:meth:`Backend.deployed`), registered under its name with :func:`register_backend`. Callers ask those
attributes (:func:`backend_class` of a table's recorded name) instead of comparing names; :func:`backend_names`
is the one list of names (the CLI's choices, the run config). A new backend is one class and its registration.

Settings are pinned, because they change latency more than most architecture choices do:

* ``onnxruntime``: CPU execution provider, ``intra_op_num_threads = threads``, one inter-op thread, sequential
  execution, every graph optimisation (``ORT_ENABLE_ALL``). With more than one thread, thread spinning is turned
  off: a table keeps hundreds of sessions alive and interleaves them, and each session's pool would otherwise spin
  on the cores while the next session runs.
* ``torch``: eager CPU PyTorch, ``torch.set_num_threads(threads)`` for the duration (then restored), eval mode,
  ``torch.no_grad()``.
* ``onnxruntime-int8``: the same ONNX Runtime session settings, on the model quantized to static int8 first
  (:mod:`hwnas.nn.quantize`: QDQ, per-channel int8 weights, uint8 activations), so that a table and a search see the
  latency of the network that ships as int8. Each model is calibrated on random inputs of its shape (ranges do not
  change latency); an ONNX file given by path is timed as it is (an ``hwnas export --int8`` file). A whole network
  is timed as it ships (:meth:`Backend.deployed`): its deployment export quantized as one graph, which is what
  ``hwnas export --int8`` writes, less the training images of its calibration.
* ``cuda``: PyTorch on the current GPU, timed with CUDA events around the calls, then a synchronize. Models are
  not compiled. Without a GPU it raises :class:`BackendUnavailable`.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ONNX_OPSET = 17
DTYPE = "float32"


class BackendUnavailable(ValueError):
    """The backend cannot run on this machine (no GPU for ``cuda``, onnxruntime not installed)."""


class Backend:
    """Base class: CPU wall-clock timing with ``time.perf_counter_ns`` and no global state to set.

    The class attributes below say what a backend can do; the base class claims nothing, so a backend this hwnas
    does not know (a table's recorded name without a registered class) is treated as the most limited one.
    """

    name = "base"
    times_exported_onnx = False
    """A network runs deployed as the ONNX file ``hwnas export`` writes, and this backend times that file: the
    measured checks time the exported file rather than the ``nn.Module``."""
    has_null_models = False
    """Null models (ONNX graphs of an op's shapes that compute nothing, :mod:`~hwnas.cost.latency.overhead`)
    measure the per-call overhead of an op on this backend: the ``overhead`` calibration kind applies."""
    has_graph_features = False
    """The graph this backend runs for an op is known (ONNX Runtime's optimised graph,
    :mod:`~hwnas.cost.latency.graph_features`): the ``graph`` and ``contextual`` calibration kinds apply."""
    device_runner = False
    """The standalone runner (:mod:`~hwnas.cost.latency.runner`) times exactly as this backend does, so a table's
    ops and sampled networks can be exported and timed on a device without torch."""
    quantized = False
    """Its models run statically quantized (QDQ int8): an op timed alone quantizes its input and dequantizes its
    output, which a whole network does once, and graph features count those steps
    (:mod:`~hwnas.cost.latency.quantized_features`)."""

    def __init__(self, threads: int = 1) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        self.threads = threads

    def prepare(self, model: Any, input_shape: tuple[int, ...]) -> Callable[[], Any]:
        """A callable that runs one inference of ``model`` on a fixed random input of ``input_shape``."""
        raise NotImplementedError

    @classmethod
    def deployed(cls, model: Any, path: Path, input_shape: tuple[int, ...]) -> Any:
        """What this backend times for the network ``model`` as it runs deployed: here the module itself;
        backends that time files write the file that ships to ``path`` and return its path."""
        return model

    def time_call(self, run: Callable[[], Any], number: int = 1) -> float:
        """Mean milliseconds of one call over ``number`` back-to-back calls."""
        start = time.perf_counter_ns()
        for _ in range(number):
            run()
        return (time.perf_counter_ns() - start) / 1e6 / number

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Set (and afterwards restore) whatever global state timing needs."""
        yield

    def version(self) -> str:
        return "unknown"

    def options(self) -> dict[str, Any]:
        return {}

    def info(self) -> dict[str, Any]:
        """What a table records about this backend."""
        return {"backend": self.name, "backend_version": self.version(), "threads": self.threads,
                "backend_options": self.options()}


_REGISTRY: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Make ``cls`` available under ``cls.name`` (a class decorator); names are listed in registration order."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"latency backend {cls.name!r} is already registered ({_REGISTRY[cls.name].__name__})")
    _REGISTRY[cls.name] = cls
    return cls


def backend_names() -> tuple[str, ...]:
    """The names of every registered backend: what ``--backend`` and ``target.backend`` accept."""
    return tuple(_REGISTRY)


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``, for its capabilities; :class:`Backend` (no capabilities) for a name
    without one, such as a table timed with a backend defined outside hwnas."""
    return _REGISTRY.get(name, Backend)


def _random_input(shape: tuple[int, ...]):
    import numpy as np

    return np.random.default_rng(0).standard_normal(shape, dtype=np.float32)


def onnx_bytes(model: Any, input_shape: tuple[int, ...], opset: int = ONNX_OPSET) -> bytes:
    """``model`` in eval mode as an ONNX graph with a static input shape, in memory.

    The TorchScript-based exporter (``dynamo=False``) is used, as in :mod:`hwnas.workflows.export`: for these
    static conv nets it gives the same graph and is about 10x faster, which matters when a table exports hundreds
    of ops.
    Static shapes let ONNX Runtime specialise every kernel, as a deployed model would.
    """
    import torch

    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.randn(*input_shape),), buffer, dynamo=False, opset_version=opset,
                          input_names=["input"])
    return buffer.getvalue()


@register_backend
class OnnxRuntimeBackend(Backend):
    """ONNX Runtime, CPU execution provider (see the module docstring for the pinned settings)."""

    name = "onnxruntime"
    times_exported_onnx = True
    has_null_models = True
    has_graph_features = True
    device_runner = True

    def __init__(self, threads: int = 1) -> None:
        super().__init__(threads)
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise BackendUnavailable("backend 'onnxruntime' needs the onnxruntime package (pip install "
                                     "onnxruntime)") from None

    def session_options(self):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # errors only: ORT's warnings about unused initialisers are noise here
        if self.threads > 1:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return so

    def prepare(self, model: Any, input_shape: tuple[int, ...]) -> Callable[[], Any]:
        """``model`` is an ``nn.Module`` (exported in memory) or the path of an ONNX file."""
        import onnxruntime as ort

        source = str(model) if isinstance(model, (str, os.PathLike)) else onnx_bytes(model, input_shape)
        if isinstance(source, str) and not Path(source).is_file():
            raise FileNotFoundError(f"ONNX model {source} does not exist")
        session = ort.InferenceSession(source, self.session_options(), providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: _random_input(input_shape)}
        return lambda: session.run(None, feed)

    @classmethod
    def deployed(cls, model: Any, path: Path, input_shape: tuple[int, ...]) -> Path:
        """The deployment ONNX export (:func:`hwnas.nn.deploy.deployed_onnx`, the file ``hwnas export`` writes)."""
        from hwnas.nn.deploy import deployed_onnx

        deployed_onnx(model, Path(path), input_shape)
        return Path(path)

    def version(self) -> str:
        import onnxruntime as ort

        return ort.__version__

    def options(self) -> dict[str, Any]:
        return {"execution_provider": "CPUExecutionProvider", "inter_op_threads": 1, "execution_mode": "sequential",
                "graph_optimization": "ORT_ENABLE_ALL", "allow_spinning": self.threads == 1, "opset": ONNX_OPSET}


@register_backend
class OnnxRuntimeInt8Backend(OnnxRuntimeBackend):
    """ONNX Runtime on the statically int8-quantized model (see the module docstring)."""

    name = "onnxruntime-int8"
    # The fp32 file `hwnas export` writes is not what ships as int8 (the measured checks of `hwnas run` time the
    # trained module through `deployed`), and the device runner does not quantize.
    times_exported_onnx = device_runner = False
    # An int8 op timed alone takes a float input and returns a float output, as an fp32 op does: the per-call cost
    # (the call into the session, binding the input, copying the output back) is the fp32 null model's. The
    # quantize/dequantize steps at its boundary grow with the tensors and are counted by the graph features.
    has_null_models = has_graph_features = quantized = True
    CALIBRATION_BATCHES = 2

    @classmethod
    def quantize_file(cls, fp32: Path, out: Path, input_shape: tuple[int, ...]) -> Path:
        """``fp32`` quantized to ``out`` as this backend times every model: calibrated on
        :attr:`CALIBRATION_BATCHES` random batches of ``input_shape`` (the ranges change the scales, not the
        kernels ONNX Runtime runs)."""
        import numpy as np

        from hwnas.nn.quantize import quantize_onnx

        rng = np.random.default_rng(0)
        batches = [rng.standard_normal(input_shape, dtype=np.float32) for _ in range(cls.CALIBRATION_BATCHES)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return quantize_onnx(fp32, out, batches)

    def prepare(self, model: Any, input_shape: tuple[int, ...]) -> Callable[[], Any]:
        import tempfile

        if isinstance(model, (str, os.PathLike)):
            return super().prepare(model, input_shape)
        with tempfile.TemporaryDirectory() as scratch:
            fp32, int8 = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
            fp32.write_bytes(onnx_bytes(model, input_shape))
            self.quantize_file(fp32, int8, input_shape)
            return super().prepare(int8, input_shape)  # the session holds the model: the file may go

    @classmethod
    def deployed(cls, model: Any, path: Path, input_shape: tuple[int, ...]) -> Path:
        """The deployment ONNX export quantized as one graph (:meth:`quantize_file`), as ``hwnas export --int8``
        ships it: inside it the int8 ops hand int8 tensors to each other, and the only quantize and dequantize
        steps left are at the network's input and output (and where ONNX Runtime has no int8 kernel)."""
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            fp32 = super().deployed(model, Path(scratch) / "fp32.onnx", input_shape)
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return cls.quantize_file(fp32, Path(path), input_shape)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "quantization": "static int8 QDQ, per-channel int8 weights, uint8 activations, "
                                                     "min-max on random inputs"}


@register_backend
class TorchBackend(Backend):
    """Eager PyTorch on the CPU, ``threads`` intra-op threads while timing."""

    name = "torch"
    device = "cpu"

    def prepare(self, model: Any, input_shape: tuple[int, ...]) -> Callable[[], Any]:
        import torch

        if isinstance(model, (str, os.PathLike)):
            raise ValueError(f"backend {self.name!r} times nn.Modules; {model} is a file (use onnxruntime)")
        model = model.to(self.device).eval()
        x = torch.from_numpy(_random_input(input_shape)).to(self.device)
        return lambda: model(x)

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        import torch

        from hwnas.threads import torch_threads

        with torch_threads(self.threads), torch.no_grad():
            yield

    def version(self) -> str:
        import torch

        return torch.__version__

    def options(self) -> dict[str, Any]:
        import torch

        return {"device": self.device, "interop_threads": torch.get_num_interop_threads(), "grad": False}


@register_backend
class CudaBackend(TorchBackend):
    """PyTorch on the current CUDA device, timed with CUDA events (GPU time, not host time)."""

    name = "cuda"
    device = "cuda"

    def __init__(self, threads: int = 1) -> None:
        super().__init__(threads)
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("backend 'cuda' needs a CUDA GPU, and torch.cuda.is_available() is False on "
                                     "this machine; use --backend onnxruntime or torch")

    def time_call(self, run: Callable[[], Any], number: int = 1) -> float:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()  # nothing queued earlier may land inside this measurement
        start.record()
        for _ in range(number):
            run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / number

    def version(self) -> str:
        import torch

        return f"{torch.__version__} (CUDA {torch.version.cuda})"

    def options(self) -> dict[str, Any]:
        import torch

        return {"device": torch.cuda.get_device_name(), "cudnn_benchmark": torch.backends.cudnn.benchmark,
                "grad": False}


BACKENDS = backend_names()
"""The built-in backends, in the order the CLI lists them."""


def get_backend(backend: str | Backend, threads: int = 1) -> Backend:
    """A backend by registered name (:func:`backend_names`), made with ``threads``; an instance is returned as it
    is."""
    if isinstance(backend, Backend):
        return backend
    if backend not in _REGISTRY:
        raise ValueError(f"unknown latency backend {backend!r}; valid: {', '.join(backend_names())}")
    return _REGISTRY[backend](threads)


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def device_info() -> dict[str, Any]:
    """The machine a measurement ran on (no host names: tables get shared)."""
    return {"cpu_model": cpu_model(), "machine": platform.machine(), "system": platform.system(),
            "logical_cpus": os.cpu_count(), "python": platform.python_version()}

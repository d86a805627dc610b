"""Your own device: export-ops -> runner (for real, in a subprocess without torch) -> import; networks likewise."""

import dataclasses
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from hwnas.arch import decode
from hwnas.cost.latency import backends, runner
from hwnas.cost.latency.backends import OnnxRuntimeBackend
from hwnas.cost.latency.build import build_arch_table
from hwnas.cost.latency.bundle import export_nets, export_ops, import_table, imported_networks, load_results
from hwnas.cost.latency.calibrate import calibrate_table
from hwnas.cost.latency.measure import Timing
from hwnas.cost.latency.table import LatencyTable

ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s1_e2_c8 ir_r1_k5_s2_e3_c16_se0.25 | head"
# Runs the runner as `python -m hwnas.cost.latency.runner` with torch made unimportable, then lists what it imported.
NO_TORCH = """
import runpy, sys
sys.modules["torch"] = None  # `import torch` now raises ImportError
sys.argv = ["runner", *sys.argv[1:]]
try:
    runpy.run_module("hwnas.cost.latency.runner", run_name="__main__", alter_sys=True)
except SystemExit as e:
    assert not e.code, e.code
print(sorted(m for m in sys.modules if m.split(".")[0] in ("hwnas", "torch") and sys.modules[m] is not None))
"""


def run_without_torch(directory: Path, *extra: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(directory), "--warmup", "1", "--rounds", "3",
                           "--quiet", *extra], capture_output=True, text=True, timeout=120,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return eval(done.stdout.strip().splitlines()[-1])  # the module list printed last


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("lut") / "lut.json"
    return build_arch_table([("tiny", decode(ARCH))], path, 16, num_classes=10, warmup=1, rounds=3,
                            progress=False).table


def test_export_ops_runner_import_gives_a_table_that_predicts(table, tmp_path):
    manifest = export_ops(table, tmp_path / "ops")
    assert [i["key"] for i in manifest["items"]] == list(table.entries)
    assert manifest["items"][0]["input_shape"] == [1, 3, 16, 16] and manifest["timing"]["rounds"] == 3
    assert (tmp_path / "ops" / "runner.py").is_file() and (tmp_path / "ops" / "op_0000.onnx").is_file()
    modules = run_without_torch(tmp_path / "ops")
    # the packages -m passes through; no torch, no other hwnas module
    assert modules == ["hwnas", "hwnas.cost", "hwnas.cost.latency"]
    results = json.loads((tmp_path / "ops" / "results.json").read_text())
    assert results["settings"]["rounds"] == 3 and results["device"]["cpu_model"]
    imported = import_table(tmp_path / "ops", out=tmp_path / "imported.json")
    loaded = LatencyTable.load(tmp_path / "imported.json", input_size=16, num_classes=10, backend="onnxruntime")
    p = loaded.provenance
    assert p["source"] == "imported" and p["device"] == results["device"] and p["archs"] == ["tiny"]
    assert p["imported"]["bundle_id"] == manifest["bundle_id"] and p["timing"]["rounds"] == 3
    assert set(loaded.entries) == set(table.entries) == set(imported.entries)
    assert loaded.predict(decode(ARCH)) > 0


def test_the_copied_runner_alone_times_a_bundle(table, tmp_path):
    export_ops(table, tmp_path / "ops")
    done = subprocess.run([sys.executable, "-S", str(tmp_path / "ops" / "runner.py"), str(tmp_path / "ops"),
                           "--rounds", "2", "--warmup", "0", "--quiet", "--out", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=120,
                          env={"OMP_NUM_THREADS": "1", "PYTHONPATH": _site_packages_of("onnxruntime")})
    assert done.returncode == 0, done.stderr
    assert len(json.loads((tmp_path / "r.json").read_text())["results"]) == len(table.entries)


def _site_packages_of(module: str) -> str:
    """The folder holding ``module`` (``-S`` drops site-packages, and with it the hwnas checkout)."""
    return str(Path(__import__(module).__file__).parents[1])


def test_export_nets_runner_calibrate_on_imported_results(table, tmp_path):
    specs = [decode(ARCH), decode(ARCH.replace("e2_c8", "e3_c8"))]
    with pytest.raises(ValueError, match="no entry for op"):
        export_nets(table, specs, tmp_path / "nets", {"seed": 4})
    manifest = export_nets(table, specs[:1], tmp_path / "nets", {"space": None, "samples": 1, "seed": 4})
    assert manifest["kind"] == "nets" and manifest["items"][0]["arch"]
    run_without_torch(tmp_path / "nets")
    measured, sampling = imported_networks(tmp_path / "nets", table=table)
    assert measured.source == "imported" and sampling["seed"] == 4 and measured.median_ms[0] > 0
    # The null-model overheads were timed too; calibrate without them, since on nets this tiny the overhead is
    # most of the measured time and the fitted scale would follow the machine's noise.
    assert measured.overheads and all(ms > 0 for ms in measured.overheads.values())
    cal = calibrate_table(table, dataclasses.replace(measured, overheads=None), seed=sampling["seed"])
    assert cal["fit"]["source"] == "imported" and cal["fit"]["samples"] == 1 and cal["offset_ms"] == 0.0
    with pytest.raises(ValueError, match="holds 'nets', not 'ops'"):
        import_table(tmp_path / "nets")


def test_results_must_belong_to_the_bundle(table, tmp_path):
    export_ops(table, tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="results.json do not exist"):
        load_results(tmp_path / "a")
    export_ops(table, tmp_path / "b")
    run_without_torch(tmp_path / "b")
    with pytest.raises(ValueError, match="another bundle"):
        load_results(tmp_path / "a", tmp_path / "b" / "results.json")
    with pytest.raises(ValueError, match="already holds a bundle"):
        export_ops(table, tmp_path / "a")
    (tmp_path / "a" / "manifest.json").write_text("{")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        runner.load_manifest(tmp_path / "a")


def test_runner_repeats_the_backend_settings_and_statistics():
    """The runner copies (it must not import) these; keep the copies equal to the originals."""
    for threads in (1, 2):
        mine, theirs = runner.session_options(threads), OnnxRuntimeBackend(threads).session_options()
        for attr in ("intra_op_num_threads", "inter_op_num_threads", "execution_mode", "graph_optimization_level",
                     "log_severity_level"):
            assert getattr(mine, attr) == getattr(theirs, attr), attr
        spin = "session.intra_op.allow_spinning"
        assert mine.get_session_config_entry(spin) == theirs.get_session_config_entry(spin) if threads > 1 else True
    samples = [0.5, 0.1, 0.9, 0.3, 0.35, 0.7]
    timing = Timing.from_samples(samples)
    assert runner.median_iqr(samples) == (pytest.approx(timing.median_ms), pytest.approx(timing.iqr_ms))
    assert runner.median_iqr(samples)[0] == statistics.median(samples)
    assert runner.device_info().keys() == backends.device_info().keys()

"""`hwnas lut calibrate | validate | export-ops | export-nets | import` end to end on a tiny space, and their errors."""

import json
import subprocess
import sys

import pytest

# Wide enough that compute, not the per-call overhead, sets the networks' latency, so that a fit on 3-4 networks
# timed for 3 rounds has a clear slope even on a busy machine.
SPACE = """\
name: two_slots
stem: stem_k3_s2_c32
stages:
  - out: 64
    stride: 2
    candidates: [skip, ir_k3_e3, ir_k5_e6_se0.25]
  - out: 64
    stride: 1
    depth: [1, 2]
    candidates: [ir_k3_e1, ir_k3_e6]
    widths: [64, 192, 384]
head: head
"""
FAST = ("--rounds", 3)


@pytest.fixture
def lut(cli, tmp_path):
    space, path = tmp_path / "two.yaml", tmp_path / "lut.json"
    space.write_text(SPACE)
    code, _, err = cli("lut", "build", "--space", space, "--input-size", 64, "--num-classes", 10, "--out", path,
                       "--warmup", 1, "--rounds", 3, "--quiet", "--no-calibrate")
    assert code == 0, err
    return path, space


def test_calibrate_then_validate_with_plot(cli, lut, tmp_path):
    path, space = lut
    # 6 networks of 10 rounds: with 4 of 3 rounds, on a busy machine (two spinning processes beside other jobs)
    # 4 of 24 fits came out implausible (the lightest network predicted near 0 ms) or with a negative slope, and
    # the calibration fell back to a simpler kind or failed; with 6 of 10, none of 20 did.
    for kind, order in (("affine", "interleaved"), ("overhead", "alone")):
        code, out, err = cli("lut", "calibrate", "--lut", path, "--space", space, "--samples", 6, "--seed", 0,
                             "--kind", kind, "--passes", 2, "--order", order, "--rounds", 10, "--json")
        assert code == 0, err
        fit = json.loads(out)
        # the 6 networks and the space's drift references, timed and fitted with them. On a loaded machine a fit
        # of 6 networks can slope the wrong way and step down to a simpler kind, which it records: that is the
        # designed answer to noise (tests/cost/test_calibrate.py tests it on fixed data), not a failure here.
        assert fit["kind"] == kind or fit["fallback_from"] == kind, fit
        assert fit["samples"] >= 6 and fit["source"] == "measured"
    stored = json.loads(path.read_text())["calibration"]
    assert stored["fit"]["seed"] == 0 and len(stored["fit"]["networks"]) == fit["samples"]
    assert stored["scale"] == fit["scale"] and len(stored["drift_references"]["ms"]) == fit["samples"] - 6
    assert stored["fit"]["timing"]["network_passes"] == 2  # each network's median over two whole passes
    assert stored["fit"]["timing"]["network_order"] == "alone"  # each network timed on its own, as deployed
    if stored["kind"] == "overhead":
        assert len(stored["overhead_ms"]) == 4  # one null model per op shape: stem, the 2 stages, head
    plot = tmp_path / "scatter.png"
    code, out, err = cli("lut", "validate", "--lut", path, "--space", space, "--samples", 5, "--seed", 1, *FAST,
                         "--json", "--plot", plot)
    assert code == 0, err
    result = json.loads(out)
    assert {"mape", "within_5pct", "within_10pct", "spearman", "n"} <= set(result) and result["n"] == 5
    assert result["excluded"] == fit["samples"] and result["calibrated"] and "mape" in result["uncalibrated"]
    assert result["order"] == "alone"  # validated the way it was calibrated
    # Both samplers, the statistic said in words, the machine's drift since calibration (its references again).
    assert set(result["samplers"]) == {"uniform", "mixed"} and result["sampler"] == "uniform"
    assert "per-call" in result["statistic"] and "export" in result["statistic"]
    assert result["drift"] > 0 and "mape" in result["drift_corrected"]
    # The calibration is applied: the two errors differ. Which is smaller is not asserted here: on this space the
    # table's sum was sometimes within 6 % uncalibrated on a busy machine; tests/cost/test_calibrate.py checks that
    # calibration helps, on a space where the table's error is large and systematic.
    assert result["mape"] != pytest.approx(result["uncalibrated"]["mape"], rel=1e-6)
    assert result["bias_pct"] != pytest.approx(result["uncalibrated"]["bias_pct"], rel=1e-6)
    if result["plot"]:
        assert plot.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = cli("latency", "act=re se=in | stem_k3_s2_c32 | skip_s2_c64 | ir_r1_k3_s1_e1_c64_m192 | head",
                       "--lut", path, "--json")
    assert code == 0 and json.loads(out)["calibrated"]


def test_remote_workflow_through_the_cli(cli, lut, tmp_path):
    path, space = lut
    ops, nets = tmp_path / "ops", tmp_path / "nets"
    assert cli("lut", "export-ops", "--lut", path, "--out", ops, "--quiet")[0] == 0
    runner = [sys.executable, "-m", "hwnas.cost.latency.runner", "--warmup", "1", "--rounds", "3", "--quiet"]
    assert subprocess.run([*runner, str(ops)], capture_output=True, timeout=120).returncode == 0
    code, out, err = cli("lut", "import", "--manifest", ops, "--out", tmp_path / "remote.json", "--json")
    assert code == 0, err
    assert json.loads(out)["source"] == "imported"
    remote = tmp_path / "remote.json"
    code, _, err = cli("lut", "export-nets", "--lut", remote, "--space", space, "--samples", 3, "--seed", 2,
                       "--out", nets)
    assert code == 0, err
    assert subprocess.run([*runner, str(nets)], capture_output=True, timeout=120).returncode == 0
    code, out, err = cli("lut", "calibrate", "--lut", remote, "--imported-results", nets / "results.json", "--json")
    assert code == 0, err
    assert json.loads(out)["source"] == "imported" and json.loads(out)["seed"] == 2
    code, _, err = cli("lut", "calibrate", "--lut", remote, "--space", space, "--samples", 2)
    assert code == 2 and "another device" in err  # an imported table is not timed here


@pytest.mark.parametrize("argv, match", [
    (("lut", "calibrate", "--lut", "missing.json"), "does not exist"),
    (("lut", "validate", "--lut", "LUT", "--space", "fbnet"), "space='two_slots', but space='fbnet'"),
    (("lut", "calibrate", "--lut", "LUT"), "unknown space 'two_slots'"),
    (("lut", "import", "--manifest", ".", "--out", "x.json"), "manifest.json does not exist"),
    (("lut", "validate", "--lut", "LUT", "--imported-results", "nope/results.json"), "does not exist"),
])
def test_errors_are_one_line(cli, lut, monkeypatch, argv, match):
    path, _ = lut
    monkeypatch.chdir(path.parent)
    code, _, err = cli(*[str(path) if a == "LUT" else a for a in argv])
    assert code == 2 and match in err and err.count("\n") == 1


def test_arch_table_needs_a_space_to_sample_from(cli, tmp_path):
    lut = tmp_path / "a.json"
    arch = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s1_e2_c8 | head"
    assert cli("lut", "build", "--arch", arch, "--input-size", 16, "--out", lut, "--rounds", 2, "--quiet")[0] == 0
    code, _, err = cli("lut", "calibrate", "--lut", lut)
    assert code == 2 and "give --space" in err and err.count("\n") == 1

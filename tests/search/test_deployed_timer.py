"""hwnas.search.measured: the Measurement arithmetic (no timing) and DeployedTimer on ONNX Runtime (a tiny network,
a few rounds: about a second)."""

from __future__ import annotations

import json

import pytest

from hwnas.arch import encode
from hwnas.search.measured import NOISE_FLOOR, DeployedTimer, Measurement, drift_references

GEOMETRY = {"input_size": 28, "in_channels": 1, "num_classes": 10}


def test_a_measurement_divides_each_pass_by_its_drift_and_takes_the_median():
    m = Measurement.from_passes([1.0, 2.4, 1.1], [1.0, 2.0, 1.0])
    assert m.passes_ms == (1.0, 2.4, 1.1) and m.drift_passes == (1.0, 2.0, 1.0)
    assert m.ms == pytest.approx(1.1) and m.raw_ms == pytest.approx(1.1) and m.drift == pytest.approx(1.0)
    assert m.noise == pytest.approx((1.2 - 1.0) / 1.1 / 2)  # the corrected passes: 1.0, 1.2, 1.1
    assert Measurement.from_passes([1.0, 1.0, 1.0]).noise == NOISE_FLOOR
    pooled = m.pooled(Measurement.of(5.0))
    assert pooled.passes == 4 and pooled.ms == pytest.approx(1.15)
    assert json.loads(json.dumps(m.to_json())) == m.to_json() and m.to_json()["passes"] == 3
    assert Measurement.of(m) is m and Measurement.of(0.5).noise == 0 and Measurement.of(0.5).passes == 1
    for passes, drift, message in [([], None, "at least one pass"), ([1.0], [1.0, 1.0], "2 drift factors"),
                                   ([1.0, -1.0], None, "> 0")]:
        with pytest.raises(ValueError, match=message):
            Measurement.from_passes(passes, drift)


def test_an_excess_is_confirmed_only_beyond_the_noise_band_and_with_three_passes():
    assert Measurement.from_passes([1.1] * 3).confirmed_over(1.0)
    assert not Measurement.from_passes([1.01] * 3).confirmed_over(1.0)  # inside the 2 % floor
    assert Measurement.from_passes([1.01] * 3).over(1.0)
    assert not Measurement.from_passes([1.5]).confirmed_over(1.0)  # one pass: not evidence
    assert not Measurement.from_passes([1.0, 1.1, 1.5]).confirmed_over(1.0)  # 1.1 within +-23 %


def test_drift_references_are_the_lightest_the_middle_and_fixed_draws(search_space):
    refs = drift_references(search_space, 3)
    assert len(refs) == len(set(refs)) == 3 and refs == drift_references(search_space, 3)
    assert refs[0] == encode(search_space.to_spec(search_space.lightest()))
    assert encode(search_space.to_spec(search_space.heaviest())) not in refs[:2]
    assert drift_references(search_space, 0) == []
    with pytest.raises(ValueError, match="count"):
        drift_references(search_space, -1)


def test_the_timer_times_every_pass_against_its_references_and_logs_every_measurement(tmp_path,
                                                                                     search_space):
    refs = drift_references(search_space, 2)
    timer = DeployedTimer(GEOMETRY, warmup=2, rounds=5, passes=3, references=refs, work_dir=tmp_path / "drift")
    arch = encode(search_space.to_spec(search_space.heaviest()))
    first = timer(arch, tmp_path / "a" / "check.onnx")
    assert first.passes == 3 and all(0 < p < 100 for p in first.passes_ms) and 0 < first.ms < 100
    # The baselines are the first measurement's own medians: its drift factors scatter around 1.
    assert timer.baselines is not None and len(timer.baselines) == 2
    assert all(0.25 < d < 4 for d in first.drift_passes) and 0.5 < first.drift < 2
    baselines = timer.baselines
    second = timer(arch, tmp_path / "a" / "check.onnx")
    assert timer.baselines == baselines and second.passes == 3 and 0.25 < second.drift < 4
    assert [entry["arch"] for entry in timer.log] == [arch, arch]
    assert timer.log[0]["ms"] == first.ms and timer.log[1]["passes_ms"] == list(second.passes_ms)
    assert all(len(entry["references_ms"]) == 3 and entry["time"] for entry in timer.log)
    assert (tmp_path / "a" / "check.onnx").is_file() and (tmp_path / "drift" / "drift_ref1.onnx").is_file()
    assert json.loads(json.dumps({"timer": timer.describe(), "log": timer.log}))["timer"]["baselines_ms"]


def test_the_timer_without_references_and_with_known_baselines(tmp_path, search_space):
    arch = encode(search_space.to_spec(search_space.lightest()))
    plain = DeployedTimer(GEOMETRY, warmup=1, rounds=3, passes=1, work_dir=tmp_path)
    m = plain(arch, tmp_path / "x.onnx")
    assert m.passes == 1 and m.drift == 1.0 and m.drift_passes == (1.0,) and plain.baselines is None
    known = DeployedTimer(GEOMETRY, warmup=1, rounds=3, passes=1, references=[arch], baselines=[1e-6],
                          work_dir=tmp_path)
    assert known(arch, tmp_path / "x.onnx").drift > 1  # nothing runs in a nanosecond: drift against a tiny baseline
    for kwargs, message in [({"passes": 0}, "passes"), ({"rounds": 0}, "rounds"),
                            ({"references": [arch], "baselines": [1.0, 2.0]}, "baselines")]:
        with pytest.raises(ValueError, match=message):
            DeployedTimer(GEOMETRY, work_dir=tmp_path, **kwargs)


def test_the_timer_from_a_table_takes_its_settings_and_refuses_an_imported_one(tmp_path, search_lut):
    timer = DeployedTimer.from_table(search_lut, tmp_path, passes=4, rounds=7)
    provenance = json.loads(search_lut.read_text())["provenance"]
    assert (timer.backend, timer.threads, timer.batch_size) == (provenance["backend"], provenance["threads"],
                                                                provenance["batch_size"])
    assert timer.geometry == GEOMETRY and timer.rounds == 7 and timer.passes == 4
    data = json.loads(search_lut.read_text())
    data["provenance"]["source"] = "imported"
    (tmp_path / "imported.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="another device"):
        DeployedTimer.from_table(tmp_path / "imported.json", tmp_path)

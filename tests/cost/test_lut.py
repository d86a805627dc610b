"""Latency tables: build, predict == sum of entries, expected == predict for one-hot, resume, safety."""

import json
import random
import subprocess
import sys

import pytest
import torch

from hwnas.arch import decode, encode
from hwnas.cost.latency.build import build_arch_table, build_space_table
from hwnas.cost.latency.table import LatencyTable
from hwnas.cost.lut_keys import space_ops

from .tiny import FakeBackend, tiny_space


def fake_build(path, **options):
    return build_space_table(tiny_space(), path, backend=FakeBackend(), width_grid=3, warmup=0, rounds=2,
                             progress=False, **options)


@pytest.fixture
def table(tmp_path):
    return fake_build(tmp_path / "lut.json").table


def one_hot(space, choice, dtype=torch.float64):
    ops = {s.op_label: torch.eye(len(s.candidates), dtype=dtype)[list(s.candidates).index(choice[s.op_label])]
           for s in space.slots()}
    depth = {f"s{s}_depth": torch.eye(len(st) - space.min_depth[s] + 1, dtype=dtype)[
        choice[f"s{s}_depth"] - space.min_depth[s]] for s, st in enumerate(space.slots_by_stage)
        if s in space.min_depth}
    widths = {s.width_label: choice[s.width_label] for s in space.slots() if s.widths}
    return ops, depth, widths


def test_table_holds_every_op_with_provenance(table):
    ops, _ = space_ops(tiny_space(), 3)
    assert list(table.entries) == [op.key for op in ops] and table.complete
    p = table.provenance
    assert (p["space"], p["input_size"], p["backend"], p["batch_size"]) == ("tiny", 16, "fake", 1)
    assert p["dtype"] == "float32" and p["threads"] == 1
    assert p["timing"]["order"] == "interleaved" and p["device"]["cpu_model"]
    data = json.loads(table.path.read_text())
    assert data["units"] == "ms" and data["schema_version"] == 1 and data["calibration"] is None


def test_predict_is_the_sum_of_entries_and_interpolates_widths(table):
    space = tiny_space()
    choice = {"s0_b0_op": "k5_se", "s0_b1_op": "k3", "s0_depth": 2, "s1_b0_op": "k3", "s1_b0_width": 48}
    spec = space.to_spec(choice)
    keys = [k for k, _ in table.breakdown(spec)]
    assert table.predict(spec) == pytest.approx(sum(table.entries[k]["median_ms"] for k in keys))
    # width 32 was not timed: halfway between the grid points 16 and 48
    mid = table.breakdown(space.to_spec(choice | {"s1_b0_width": 32}))[-3][1]
    lo, hi = (table.entries[f"ir_r1_k3_s1_e1_c24_m{w}_nre@16x4x4"]["median_ms"] for w in (16, 48))
    assert mid == pytest.approx((lo + hi) / 2)


def test_expected_equals_predict_for_one_hot(table):
    space, rng = tiny_space(), random.Random(1)
    for _ in range(8):
        choice = space.sample(rng)
        ops, depth, widths = one_hot(space, choice)
        expected = table.expected(space, ops, depth, widths)
        assert float(expected) == pytest.approx(table.predict(space.to_spec(choice)), rel=1e-12)


def test_expected_is_differentiable(table):
    space = tiny_space()
    logits = {s.op_label: torch.zeros(len(s.candidates), requires_grad=True) for s in space.slots()}
    depth_logits = torch.zeros(2, requires_grad=True)
    probs = {k: v.softmax(0) for k, v in logits.items()}
    table.expected(space, probs, {"s0_depth": depth_logits.softmax(0)}).backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in logits.values())
    assert depth_logits.grad.abs().sum() > 0


def test_depth_expectation_by_hand(table):
    """Stage 0 has depth 1 or 2: E = fixed + lat(b0) + P(depth = 2) * lat(b1) + lat(s1)."""
    space = tiny_space()
    choice = {"s0_b0_op": "k3", "s0_b1_op": "k3", "s0_depth": 2, "s1_b0_op": "k3_se", "s1_b0_width": 80}
    ops, _, widths = one_hot(space, choice)
    q = torch.tensor([0.25, 0.75], dtype=torch.float64)
    full = table.predict(space.to_spec(choice))
    shallow = table.predict(space.to_spec(choice | {"s0_depth": 1}))
    b1 = full - shallow
    assert float(table.expected(space, ops, {"s0_depth": q}, widths)) == pytest.approx(shallow + 0.75 * b1)


def test_interrupted_build_resumes_where_it_stopped(tmp_path):
    path, total = tmp_path / "lut.json", len(space_ops(tiny_space(), 3)[0])

    def stop_after_two_chunks(done, _total):
        if done >= 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fake_build(path, chunk=4, on_chunk=stop_after_two_chunks)
    partial = LatencyTable.load(path)
    assert not partial.complete and len(partial.entries) == 8
    with pytest.raises(ValueError, match="incomplete"):
        partial.predict(tiny_space().to_spec(tiny_space().heaviest()))

    backend = FakeBackend()
    result = build_space_table(tiny_space(), path, backend=backend, width_grid=3, warmup=0, rounds=2,
                               progress=False, chunk=4)
    assert (result.reused, result.timed, len(backend.prepared)) == (8, total - 8, total - 8)
    assert result.table.complete and result.table.entries == fake_build(tmp_path / "fresh.json").table.entries


def test_resume_with_other_settings_is_refused(tmp_path):
    path = tmp_path / "lut.json"
    fake_build(path)
    with pytest.raises(ValueError, match=r"timing=.*--overwrite"):
        build_space_table(tiny_space(), path, backend=FakeBackend(), width_grid=3, warmup=0, rounds=3,
                          progress=False)
    result = build_space_table(tiny_space(), path, backend=FakeBackend(), width_grid=3, warmup=0, rounds=3,
                               progress=False, overwrite=True)
    assert result.timed == result.ops


@pytest.mark.parametrize("field, value", [("backend", "onnxruntime"), ("batch_size", 4), ("input_size", 224),
                                          ("space", "fbnet"), ("threads", 2)])
def test_provenance_mismatch_names_the_field_and_both_values(table, field, value):
    with pytest.raises(ValueError, match=rf"{field}={table.provenance[field]!r}.*{field}={value!r}"):
        table.check(**{field: value})
    with pytest.raises(ValueError, match=field):
        LatencyTable.load(table.path, **{field: value})


def test_table_for_another_space_or_size_is_refused(table):
    other = tiny_space(input_size=32)
    with pytest.raises(ValueError, match="input_size=16.*input_size=32"):
        table.expected(other, one_hot(other, other.heaviest())[0])
    with pytest.raises(ValueError, match="space_digest"):
        table.check_space(tiny_space(se_mode="exp"))


def test_missing_op_is_an_error_naming_it(table):
    spec = decode("act=re se=in | stem_k3_s2_c8 | ir_r1_k7_s1_e2_c8 | head_c40_nhs")
    with pytest.raises(ValueError, match=r"no entry for op 'ir_r1_k7_s1_e1_c8_m16_nre@8x8x8'"):
        table.predict(spec)


@pytest.mark.parametrize("damage, match", [
    (lambda text: text[: len(text) // 2], "corrupt or truncated"),
    (lambda text: "[1, 2]", "not an hwnas latency table"),
    (lambda text: text.replace('"schema_version": 1', '"schema_version": 99'), "schema version 99"),
    (lambda text: text.replace('"units": "ms"', '"units": "s"'), "units 's'"),
    (lambda text: text.replace('"median_ms": 0.', '"median_ms": -0.', 1), "non-negative"),
    (lambda text: text.replace('"batch_size": 1', '"batch_size": "1"'), "batch_size"),
])
def test_damaged_files_are_errors_naming_the_file(table, damage, match):
    table.path.write_text(damage(table.path.read_text()))
    with pytest.raises(ValueError, match=match) as info:
        LatencyTable.load(table.path)
    assert str(table.path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LatencyTable.load(tmp_path / "nope.json")


def test_calibration_is_applied_stored_and_checked(table):
    space = tiny_space()
    spec = space.to_spec(space.heaviest())
    raw = table.predict(spec)
    table.calibration = {"kind": "affine", "scale": 1.5, "offset_ms": 0.25, "fitted_on": 12}
    table.save()
    loaded = LatencyTable.load(table.path)
    assert loaded.predict(spec) == pytest.approx(1.5 * raw + 0.25)
    assert loaded.predict(spec, calibrated=False) == pytest.approx(raw)
    ops, depth, widths = one_hot(space, space.heaviest())
    assert float(loaded.expected(space, ops, depth, widths)) == pytest.approx(1.5 * raw + 0.25)
    assert fake_build(table.path).table.calibration == table.calibration  # a rerun keeps the fitted correction
    data = json.loads(table.path.read_text()) | {"calibration": {"kind": "magic"}}
    table.path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="calibration"):
        LatencyTable.load(table.path)


def test_arch_table_times_only_those_ops(tmp_path):
    spec = decode("act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s1_e2_c8 ir_r1_k3_s1_e2_c8 | head")
    result = build_arch_table([("tiny", spec)], tmp_path / "a.json", 16, num_classes=10, backend=FakeBackend(),
                              warmup=0, rounds=1, progress=False)
    assert result.ops == 3 and result.table.provenance["archs"] == ["tiny"]  # the two ir layers are one op
    assert result.table.predict(spec) > 0


def test_real_onnxruntime_table_and_prediction_without_torch(tmp_path):
    space = tiny_space()
    result = build_space_table(space, tmp_path / "ort.json", width_grid=3, warmup=1, rounds=3, progress=False)
    table = result.table
    assert table.provenance["backend"] == "onnxruntime" and table.provenance["backend_options"]["opset"] == 17
    assert all(e["median_ms"] > 0 and e["rounds"] == 3 for e in table.entries.values())
    arch = encode(space.to_spec(space.heaviest()))
    code = ("import sys; from hwnas.arch import decode; from hwnas.cost.latency.table import LatencyTable; "
            f"t = LatencyTable.load({str(table.path)!r}); print(t.predict(decode({arch!r}))); "
            "assert 'torch' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) == pytest.approx(table.predict(space.to_spec(space.heaviest())))


def test_passes_keep_the_median_of_each_op_and_resume(tmp_path):
    path = tmp_path / "lut.json"
    result = fake_build(path, passes=3)
    entry = next(iter(result.table.entries.values()))
    assert len(entry["pass_ms"]) == 3 and entry["median_ms"] == sorted(entry["pass_ms"])[1]
    assert entry["rounds"] == 3 * 2 and result.table.provenance["timing"]["passes"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lut.json"]  # the pass files are gone
    again = fake_build(path, passes=3)
    assert again.timed == 0 and again.table.entries == result.table.entries
    with pytest.raises(ValueError, match="timing="):
        fake_build(path)  # one pass is another setting

"""A table's calibration is one class per kind, chosen by the name stored in the file; a new kind is one class."""

import random

import pytest
import torch

from hwnas.cost.latency import calibration_kinds
from hwnas.cost.latency.calibration_kinds import (
    CALIBRATION_KINDS, CalibrationKind, calibration_kind, check_calibration, kind_names, register_kind,
)
from hwnas.cost.latency.table import LatencyTable

from .test_lut import fake_build, one_hot
from .tiny import tiny_space


def test_the_built_in_kinds_in_order():
    assert CALIBRATION_KINDS == kind_names() == ("affine", "overhead", "graph", "contextual")
    assert [type(calibration_kind(k)).__name__ for k in CALIBRATION_KINDS] == ["Affine", "Overhead", "Graph",
                                                                               "Contextual"]
    with pytest.raises(ValueError, match="unknown calibration kind 'bogus'"):
        calibration_kind("bogus")


@pytest.mark.parametrize("cal, match", [
    ({"kind": "bogus", "scale": 1.0, "offset_ms": 0.0}, "kind in"),
    ({"kind": ["affine"], "scale": 1.0, "offset_ms": 0.0}, "kind in"),  # unhashable: still a clear error
    ({"kind": "affine", "scale": float("nan"), "offset_ms": 0.0}, "'scale'"),
    ({"kind": "overhead", "scale": 1.0, "offset_ms": 0.0}, "'overhead' calibration needs 'overhead_ms'"),
    ({"kind": "graph", "scale": 1.0, "offset_ms": 0.0, "overhead_ms": {}}, "'node_ms'"),
    ({"kind": "contextual", "scale": 1.0, "offset_ms": 0.0, "overhead_ms": {}, "node_ms": 0.0,
      "ms_per_mparam": 0.0, "op_features": {}}, "'op_residual_ms'"),
])
def test_each_kind_checks_its_own_fields(cal, match):
    with pytest.raises(ValueError, match=match):
        check_calibration(cal, "latency table x.json")


def test_a_new_kind_is_one_class_and_its_registration(tmp_path, monkeypatch):
    monkeypatch.setattr(calibration_kinds, "_KINDS", dict(calibration_kinds._KINDS))  # ends with the test

    @register_kind
    class PerOp(CalibrationKind):
        """Every op costs ``per_op_ms`` less inside a network than alone."""

        name = "per_op"

        def check(self, cal, where):
            super().check(cal, where)
            if not isinstance(cal.get("per_op_ms"), float):
                raise ValueError(f"{where}: a 'per_op' calibration needs 'per_op_ms'")

        def op_correction(self, cal, op, families, where):
            return cal["per_op_ms"]

    table = fake_build(tmp_path / "lut.json").table
    with pytest.raises(ValueError, match="'per_op' calibration needs 'per_op_ms'"):
        table.calibration = {"kind": "per_op", "scale": 1.0, "offset_ms": 0.0}
    table.calibration = {"kind": "per_op", "scale": 2.0, "offset_ms": 0.5, "per_op_ms": 0.001}
    table.save()
    loaded = LatencyTable.load(tmp_path / "lut.json")  # the file names the kind; loading finds its class
    space = tiny_space()
    for seed in range(5):
        choice = space.sample(random.Random(seed))
        spec = space.to_spec(choice)
        ops = loaded.spec_ops(spec)
        raw = loaded.predict(spec, calibrated=False)
        assert loaded.predict(spec) == pytest.approx(2.0 * (raw - 0.001 * len(ops)) + 0.5)
        expected = loaded.expected(space, *one_hot(space, choice))
        assert isinstance(expected, torch.Tensor) and expected.item() == pytest.approx(loaded.predict(spec))

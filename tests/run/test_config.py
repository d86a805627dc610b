"""Presets load strictly: every bad key, type, value and file is a one-line error naming the key."""

from __future__ import annotations

import pytest

from hwnas.run.preset import PRESETS_DIR, RunConfig, dump_config, load_config
from hwnas.settings import set_dotted


def test_built_in_presets_and_defaults_load():
    assert load_config() == RunConfig()
    for path in PRESETS_DIR.glob("*.yaml"):
        cfg = load_config(path.stem)
        assert cfg.search.method in ("fbnet", "tfnas", "spos", "hardcore", "random")
    quick = load_config("quick")
    assert quick.search.width_mult == 0.5 and quick.references.scaled and quick.finalists.count >= 2


@pytest.mark.parametrize("overrides,match", [
    ({"finalists.epochs": []}, "finalists.epochs must be a non-empty list"),
    ({"finalists.epochs": [1, 0]}, "finalists.epochs must be a non-empty list"),
    ({"finalists.count": -1}, "finalists.count must be >= 0"),
    ({"finalists.references": ["resnet50"]}, "finalists.references has 'resnet50', not a zoo network"),
    ({"references.scaled": ["nope"]}, "references.scaled has 'nope'"),
    ({"finalists.fill_rounds": 0}, "finalists.fill_rounds must be > 0"),
])
def test_finalist_and_scaled_reference_settings_are_checked(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_config("quick", overrides)


@pytest.mark.parametrize("overrides,match", [
    ({"search.metod": "spos"}, "unknown key 'search.metod'"),
    ({"colour": 1}, "unknown key 'colour'"),
    ({"train.epochs": "3"}, "train.epochs must be an integer"),
    ({"train.epochs": 0}, "train.epochs must be > 0"),
    ({"train.augment": "yes"}, "train.augment must be true/false"),
    ({"budgets.max_latency_ms": -1.0}, "budgets.max_latency_ms must be > 0"),
    ({"budgets.latency_fraction": 1.5}, r"latency_fraction must be in \(0, 1\]"),
    ({"search.method": "darts"}, "search.method must be one of"),
    ({"target.backend": "tpu"}, "target.backend must be one of"),
    ({"export.formats": ["onnx", "tflite"]}, "export.formats must be one of"),
    ({"lut.calibrate": 3}, "lut.calibrate needs 0"),
    ({"search.settings.evolution.generatons": 2}, "do not fit spos"),
    ({"references.names": "fbnet_a"}, "references.names must be a list of a string"),
    ({"search": 3}, "search must be a mapping"),
])
def test_bad_values_are_named(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_config("quick", overrides)


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="unknown preset 'nope'; built-in: default, quick"):
        load_config("nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("search: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must be a mapping of sections"):
        load_config(listing)


def test_overrides_and_a_dumped_config_round_trip(tmp_path):
    cfg = load_config("quick", {"search.method": "hardcore", "search.settings": {},
                                "search.settings.bcfw.steps": 5, "budgets.max_latency_ms": 2})
    assert cfg.search.method == "hardcore" and cfg.search.settings == {"bcfw.steps": 5}
    assert cfg.budgets.max_latency_ms == 2.0 and isinstance(cfg.budgets.max_latency_ms, float)
    saved = tmp_path / "config.yaml"
    saved.write_text(dump_config(cfg))
    assert load_config(saved) == cfg
    data = {"a": 1}
    with pytest.raises(ValueError, match="not a section"):
        set_dotted(data, "a.b", 2)
    with pytest.raises(ValueError, match="malformed key"):
        set_dotted(data, "a..b", 2)

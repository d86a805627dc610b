import json
import logging
import sys
from pathlib import Path

import pytest
import torch

from hwnas.train import MetricsLogger, topk_accuracy, topk_correct


def test_topk_known_values() -> None:
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5], [0.5, 0.4, 0.1]])
    targets = torch.tensor([1, 1, 0, 2])
    assert topk_correct(logits, targets, (1, 2, 3)) == [1, 2, 4]
    assert topk_accuracy(logits, targets, (1, 5)) == [25.0, 100.0]  # k clamped to the 3 classes


def test_topk_bad_shapes() -> None:
    with pytest.raises(ValueError, match="logits"):
        topk_correct(torch.zeros(3), torch.zeros(3, dtype=torch.long))


def test_jsonl_lines_and_resume_truncation(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path, tensorboard=False) as logger:
        for step in range(1, 4):
            logger.log(step, {"loss": 1.0 / step, "kind": "train"})
        assert logger.lines_written == 3
    path = tmp_path / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[1]["loss"] == 0.5
    with open(path, "a") as f:
        f.write('{"step": 4, "lo')  # torn line from a killed process
    with MetricsLogger(tmp_path, tensorboard=False, keep_lines=2) as logger:
        logger.log(3, {"loss": 0.1})
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3]
    with MetricsLogger(tmp_path, tensorboard=False):  # keep_lines=0: fresh run, fresh file
        pass
    assert path.read_text() == ""


def test_nan_is_refused_rather_than_written_as_invalid_json(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path, tensorboard=False) as logger:
        with pytest.raises(ValueError):
            logger.log(1, {"loss": float("nan")})


def test_tensorboard_scalars_when_available(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    with MetricsLogger(tmp_path, tensorboard=True) as logger:
        logger.log(1, {"loss": 0.5, "kind": "train"})
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_missing_tensorboard_is_one_log_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail
    with caplog.at_level(logging.INFO, logger="hwnas.train.metrics"):
        with MetricsLogger(tmp_path, tensorboard=True) as logger:
            logger.log(1, {"loss": 0.5})
    assert sum("tensorboard is not installed" in r.message for r in caplog.records) == 1
    assert not (tmp_path / "tb").exists()
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 1

"""The train -> eval -> export path through the CLI on a small fake Fashion-MNIST, and the demo job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from hwnas.data.idx import write_idx
from tests.data.fakes import learnable_images

TINY = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e2_c16 | ir_r1_k3_s1_e2_c16_g2 | cn_r1_k1_s1_c32 | head"


@pytest.fixture
def fake_fashion(tmp_path, monkeypatch) -> Path:
    """Four gzipped IDX files shaped like Fashion-MNIST; $HWNAS_DATA points at them."""
    root = tmp_path / "data" / "fashion-mnist"
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 320), ("t10k", 64)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = learnable_images(labels, rng)  # learnable: a few epochs must beat chance (10 %) by far
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    monkeypatch.setenv("HWNAS_DATA", str(root.parent))
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    return root



def test_train_eval_export_resume(cli, tmp_path, fake_fashion):
    out = tmp_path / "run"
    code, stdout, err = cli("train", TINY, "--dataset", "fashion-mnist", "--epochs", 2, "--batch-size",
                            32, "--lr", 0.2, "--out", out, "--quiet", "--json")
    assert code == 0, err
    metrics = json.loads(stdout)
    assert {"top1", "top5", "epochs", "wall_time_s"} <= set(metrics) and metrics["epochs"] == 2
    assert json.loads((out / "metrics.json").read_text())["top1"] == metrics["top1"]
    assert (out / "arch.json").is_file() and (out / "last.pt").is_file() and (out / "best.pt").is_file()

    code, stdout, err = cli("eval", "--checkpoint", out / "best.pt", "--json")
    assert code == 0, err
    evaluated = json.loads(stdout)
    assert evaluated["top1"] >= 40.0 and evaluated["top5"] >= evaluated["top1"], evaluated  # 56 % here

    onnx_path = tmp_path / "exp" / "m.onnx"
    code, stdout, err = cli("export", "--checkpoint", out / "best.pt", "--format", "onnx", "--out",
                            onnx_path, "--json")
    assert code == 0, err
    assert json.loads(stdout)["max_abs_diff"] < 1e-4
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: np.zeros((2, 1, 28, 28), np.float32)})[0]
    assert logits.shape == (2, 10)

    ts_path = tmp_path / "exp" / "m.ts"
    code, _, err = cli("export", "--checkpoint", out / "best.pt", "--format", "torchscript", "--out",
                       ts_path)
    assert code == 0, err
    assert torch.jit.load(str(ts_path))(torch.zeros(1, 1, 28, 28)).shape == (1, 10)

    # Resuming a finished run is a no-op that reports the same result; changing the schedule is refused,
    # since a cosine schedule stretched mid-run is not the run the user asked for.
    code, stdout, err = cli("train", TINY, "--epochs", 2, "--batch-size", 32, "--lr", 0.2, "--out", out,
                            "--resume", "--quiet", "--json")
    assert code == 0, err
    assert json.loads(stdout)["top1"] == metrics["top1"]
    code, _, err = cli("train", TINY, "--epochs", 3, "--batch-size", 32, "--lr", 0.2, "--out", out,
                       "--resume", "--quiet")
    assert code == 2 and "config differs" in err


def test_resume_refuses_a_different_architecture(cli, tmp_path, fake_fashion):
    out = tmp_path / "run"
    assert cli("train", TINY, "--epochs", 1, "--limit", 64, "--out", out, "--quiet")[0] == 0
    other = TINY.replace("c32", "c48")
    code, _, err = cli("train", other, "--epochs", 1, "--limit", 64, "--out", out, "--resume", "--quiet")
    assert code == 2 and "cannot resume" in err


def test_missing_dataset_error_says_where_it_looked(cli, tmp_path, monkeypatch):
    from hwnas.data import locate

    monkeypatch.setattr(locate, "SYSTEM_DATA_ROOT", tmp_path / "none")
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HWNAS_DATA", raising=False)
    (tmp_path / "empty").mkdir()
    code, _, err = cli("train", TINY, "--data-dir", tmp_path / "empty", "--out", tmp_path / "r", "--quiet")
    assert code == 2 and "looked in" in err and str(tmp_path / "empty") in err and "Traceback" not in err

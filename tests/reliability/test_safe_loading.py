"""No pickle of untrusted files: a crafted checkpoint that would run a command, handed to every hwnas command that
reads weights or state, is refused with one line and runs nothing; and no loader in the source can unpickle."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from hwnas.cli import main
from tests.data.fakes import make_fake_fashion

ROOT = Path(__file__).resolve().parents[2]
TINY_YAML = str(ROOT / "tests" / "search" / "tiny_space.yaml")
ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c16 | head"


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def evil(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "step": 0, "payload": Evil(marker)}, path)
    return path, marker


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("fashion")
    make_fake_fashion(directory, n_train=64, n_test=16)
    return directory


def refused(capsys, argv: list[str], marker: Path) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("hwnas: error: ") and len(err.strip().splitlines()) == 1, err
    assert not marker.exists(), "the crafted pickle ran its command"
    return err


def test_eval_refuses_a_crafted_checkpoint(evil, data, capsys):
    path, marker = evil
    err = refused(capsys, ["eval", ARCH, "--checkpoint", str(path), "--data-dir", str(data)], marker)
    assert "evil.pt" in err and "unsafe" in err


def test_export_refuses_a_crafted_checkpoint(evil, tmp_path, capsys):
    path, marker = evil
    refused(capsys, ["export", ARCH, "--checkpoint", str(path), "--out", str(tmp_path / "m.onnx"),
                     "--input-size", "28", "--in-channels", "1", "--num-classes", "10"], marker)


def test_train_resume_refuses_a_crafted_last_checkpoint(evil, tmp_path, data, capsys):
    path, marker = evil
    out = tmp_path / "run"
    assert main(["train", ARCH, "--data-dir", str(data), "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    shutil.copy(path, out / "last.pt")
    refused(capsys, ["train", ARCH, "--data-dir", str(data), "--epochs", "1", "--quiet", "--resume", "--out",
                     str(out)], marker)


def test_search_resume_and_from_supernet_refuse_crafted_state(evil, tmp_path, data, capsys):
    path, marker = evil
    base = ["search", "--method", "spos", "--space", TINY_YAML, "--data-dir", str(data), "--max-params", "1e6",
            "--quiet", "--no-tensorboard", "--batch-size", "16", "--set", "epochs=1", "--set", "recal_batches=1",
            "--set", "score_batches=1", "--set", "evolution.population=4", "--set", "evolution.top_k=2",
            "--set", "evolution.generations=1"]
    out = tmp_path / "s"
    out.mkdir()
    shutil.copy(path, out / "search_state.pt")
    refused(capsys, [*base, "--resume", "--out", str(out)], marker)
    trained = tmp_path / "t"
    assert main([*base, "--out", str(trained)]) == 0
    shutil.copy(path, trained / "supernet.pt")
    refused(capsys, [*base, "--from-supernet", str(trained), "--out", str(tmp_path / "u")], marker)


def test_no_loader_in_the_source_can_unpickle():
    """torch.load only with weights_only=True, no pickle/marshal/shelve loads, YAML only through safe_load (the
    CIFAR batches, which are pickles, go through hwnas.data.safe_pickle's restricted unpickler)."""
    offenders = []
    for path in (ROOT / "hwnas").rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if "torch.load(" in code and "weights_only=True" not in code:
                offenders.append(f"{path.name}:{n}: {line.strip()}")
            if re.search(r"\b(pickle|marshal|shelve|dill|cloudpickle)\.loads?\(", code) or "yaml.load(" in code \
                    or "yaml.unsafe_load" in code or "jsonpickle" in code:
                if path.name != "safe_pickle.py":
                    offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, "unsafe loads:\n" + "\n".join(offenders)

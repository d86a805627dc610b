"""Every kind of bad input gives one clear line on stderr and a non-zero exit, never a traceback.

Each case runs the real CLI entry point (``hwnas.cli.main``, in-process to keep the suite fast: an exception it does
not turn into a one-line error escapes and fails the test, as a traceback would); the files are real (truncated,
corrupt, from another space). ``test_one_case_as_a_real_process`` runs one case as ``python -m hwnas``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwnas.cost.latency.build import build_space_table
from hwnas.space import get_space
from tests.cost.tiny import FakeBackend
from tests.data.fakes import make_fake_fashion

ROOT = Path(__file__).resolve().parents[2]
TINY_YAML = str(ROOT / "tests" / "search" / "tiny_space.yaml")
ARCH = "act=re se=in | stem_k3_s2_c8 | ir_r1_k3_s2_e3_c16 | head"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    data = d / "fashion"
    make_fake_fashion(data, n_train=64, n_test=16)
    truncated_data = d / "fashion_truncated"
    shutil.copytree(data, truncated_data)
    images = truncated_data / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:200])
    garbled_data = d / "fashion_garbled"
    shutil.copytree(data, garbled_data)
    with gzip.open(garbled_data / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01\x00\x00\x00\x40" + bytes([42]) * 64)  # label 42 of 10 classes
    lut = d / "tiny.json"
    build_space_table(get_space(TINY_YAML, 28, 1, 10), lut, warmup=0, rounds=1, progress=False)
    # The same space's table at 32 px: everything matches a 28-px Fashion-MNIST search but the geometry (fake
    # timings keep it fast; the geometry check reads only the provenance).
    lut32 = d / "tiny32.json"
    build_space_table(get_space(TINY_YAML, 32, 1, 10), lut32, backend=FakeBackend(), warmup=0, rounds=1,
                      progress=False)
    truncated_lut = d / "truncated.json"
    truncated_lut.write_text(lut.read_text()[: len(lut.read_text()) // 2])
    wrong_units = d / "wrong_units.json"
    table = json.loads(lut.read_text())
    table["units"] = "s"  # the table's own field (a provenance "units" would be ignored)
    wrong_units.write_text(json.dumps(table))
    checkpoint = d / "corrupt.pt"
    checkpoint.write_bytes(b"PK\x03\x04 not really a zip" * 10)
    arch_json = d / "arch.json"
    arch_json.write_text('{"format": "hwnas-arch", "stem": ')
    unknown_key = d / "unknown_key.yaml"
    unknown_key.write_text("search:\n  methd: spos\n")
    wrong_type = d / "wrong_type.yaml"
    wrong_type.write_text("train:\n  epochs: three\n")
    not_yaml = d / "not_yaml.yaml"
    not_yaml.write_text("search: [unclosed\n")
    return {"data": data, "truncated_data": truncated_data, "garbled_data": garbled_data, "lut": lut, "lut32": lut32,
            "truncated_lut": truncated_lut, "wrong_units": wrong_units, "checkpoint": checkpoint,
            "arch_json": arch_json, "unknown_key": unknown_key, "wrong_type": wrong_type, "not_yaml": not_yaml,
            "out": d / "out"}


def search(*extra: str) -> list[str]:
    return ["search", "--method", "spos", "--space", TINY_YAML, "--set", "epochs=1", "--quiet", *extra]


# name: (argv with {file} placeholders, what the one line must say). A needle is what only the intended check
# says: not empty, not a bare word any error could contain, and not an echo of the command line (a file name).
CASES = {
    "malformed arch text": (["profile", "stem_k3 | ir_k9 | head"], "architecture 'stem_k3 | ir_k9 | head'"),
    "malformed arch JSON": (["profile", "{arch_json}"], "arch.json: architecture JSON is malformed"),
    "unknown zoo name": (["zoo", "show", "mobilenet_v9"], "unknown zoo network"),
    "unknown space": (["space", "show", "nasnet"], "unknown space 'nasnet'"),
    "negative budget": (search("--max-params", "-5", "--data-dir", "{data}", "--out", "{out}"),
                        "--max-params must be a positive number"),
    "zero budget": (search("--max-latency-ms", "0", "--lut", "{lut}", "--data-dir", "{data}", "--out", "{out}"),
                    "--max-latency-ms must be a positive number"),
    "unreachable budget": (search("--max-params", "100", "--data-dir", "{data}", "--out", "{out}"),
                           "meets max-params 100: the smallest achievable is"),
    "table of another space": (["search", "--method", "spos", "--space", "fbnet", "--lut", "{lut}",
                                "--max-latency-ms", "1", "--out", "{out}", "--data-dir", "{data}"],
                               "tiny.json was built for space='tiny_search', but space='fbnet' was asked for"),
    # The data loads (fake Fashion-MNIST, 28 px), so the error is the table's geometry, not a missing dataset.
    "table of another input size": (["search", "--method", "spos", "--space", TINY_YAML, "--lut", "{lut32}",
                                     "--max-latency-ms", "1", "--out", "{out}", "--data-dir", "{data}"],
                                    "tiny32.json was built for input_size=32, but input_size=28 was asked for"),
    "truncated table": (["latency", ARCH, "--lut", "{truncated_lut}"], "truncated.json is corrupt or truncated"),
    "table in other units": (["latency", ARCH, "--lut", "{wrong_units}"], "is in units 's'; hwnas tables are in 'ms'"),
    "corrupt checkpoint": (["eval", ARCH, "--checkpoint", "{checkpoint}", "--dataset", "fashion-mnist",
                            "--data-dir", "{data}"], "corrupt.pt is corrupt, truncated or unsafe to load"),
    "truncated dataset file": (["train", ARCH, "--data-dir", "{truncated_data}", "--epochs", "1", "--quiet",
                                "--out", "{out}"], "truncated gzip IDX file"),
    "dataset with impossible labels": (["train", ARCH, "--data-dir", "{garbled_data}", "--epochs", "1", "--quiet",
                                        "--out", "{out}"], "train-labels-idx1-ubyte.gz has labels outside 0..9"),
    "dataset path that does not exist": (["train", ARCH, "--data-dir", "/nonexistent/fashion", "--epochs", "1",
                                          "--quiet", "--out", "{out}"], "/nonexistent/fashion does not exist"),
    "preset with an unknown key": (["run", "--preset", "{unknown_key}", "--out", "{out}"],
                                   "unknown key 'search.methd'"),
    "preset with a wrong type": (["run", "--preset", "{wrong_type}", "--out", "{out}"],
                                 "train.epochs must be an integer"),
    "preset that is not YAML": (["run", "--preset", "{not_yaml}", "--out", "{out}"], "not_yaml.yaml is not valid YAML"),
    "--set without '='": (["run", "--set", "search.method", "--out", "{out}"], "KEY=VALUE"),
    "--set of an unknown key": (["run", "--set", "search.mthod=spos", "--out", "{out}"], "unknown key 'search.mthod'"),
    "--set with a wrong type": (["run", "--set", "search.limit=many", "--out", "{out}"],
                                "search.limit must be an integer or null"),
    # Size and count flags: zero or negative is a one-line usage error, never a silent default (profile once
    # took --input-size 0 as 224).
    "profile at input size 0": (["profile", "mobilenetv2_100", "--input-size", "0"], "expected a positive integer"),
    "profile with no input channels": (["profile", "mobilenetv2_100", "--in-channels", "-1"],
                                       "expected a positive integer"),
    "profile with no classes": (["profile", "mobilenetv2_100", "--num-classes", "0"], "expected a positive integer"),
    "profile at 0 bits": (["profile", "mobilenetv2_100", "--bits", "0"], "expected a positive integer"),
    "space at width 0": (["space", "show", "spos", "--width-mult", "0"], "expected a positive number"),
    "search at a negative width": (search("--width-mult", "-0.5", "--max-params", "1e6", "--out", "{out}"),
                                   "expected a positive number"),
    "search with batch 0": (search("--batch-size", "0", "--max-params", "1e6", "--out", "{out}"),
                            "expected a positive integer"),
    "table at width 0": (["lut", "build", "--space", "spos", "--width-mult", "0", "--out", "{out}"],
                         "expected a positive number"),
    "table with negative warm-up": (["lut", "build", "--space", "spos", "--warmup", "-1", "--out", "{out}"],
                                    "expected an integer >= 0"),
    "search --set that does not parse": (search("--set", "evolution.population", "--data-dir", "{data}",
                                                "--max-params", "1e6", "--out", "{out}"), "KEY=VALUE"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_line_and_a_non_zero_exit(name, files, capsys, monkeypatch):
    from hwnas.cli import main

    argv, needle = CASES[name]
    argv = [a.format(**files) for a in argv]
    assert needle and not any(needle.lower() in a.lower() for a in argv), f"{name}: {needle!r} proves nothing"
    monkeypatch.setenv("HWNAS_DATA", "/nonexistent")
    monkeypatch.setenv("HWNAS_CACHE", str(files["out"] / "cache"))
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code not in (0, None), f"{name}: exit 0"
    assert lines and (lines[-1].startswith("hwnas: error: ") or ": error: " in lines[-1]), f"{name}: {err}"
    assert needle.lower() in lines[-1].lower(), f"{name}: {needle!r} not in {err!r}"


def test_one_case_as_a_real_process(files):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "hwnas", "latency", ARCH, "--lut", str(files["truncated_lut"])],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # exactly one line
    assert done.stderr.startswith("hwnas: error: latency table ") and "truncated.json" in done.stderr

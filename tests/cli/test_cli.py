"""The CLI: machine output is JSON with the documented keys, and user errors are one line with exit code 2."""

import json
import subprocess
import sys

import pytest




def test_zoo_list_and_show(cli):
    code, out, _ = cli("zoo", "list", "--json")
    assert code == 0
    names = [r["name"] for r in json.loads(out)]
    assert "fbnet_a" in names and "hardcorenas_f" in names
    code, out, _ = cli("zoo", "show", "mobilenetv2_100", "--json")
    d = json.loads(out)
    assert code == 0 and {"name", "arch", "input_size", "params", "macs"} <= set(d)
    assert d["input_size"] == 224 and abs(d["macs"] / 300e6 - 1) < 0.01


def test_profile_accepts_zoo_text_and_json_file(cli, tmp_path):
    from hwnas import zoo
    from hwnas.arch import dumps

    code, out, _ = cli("profile", "fbnet_a", "--json")
    by_name = json.loads(out)
    assert code == 0 and {"params", "macs", "peak_activation_bytes"} <= set(by_name)
    code, out, _ = cli("profile", zoo.get("fbnet_a").arch, "--json")
    assert json.loads(out)["macs"] == by_name["macs"]
    path = tmp_path / "a.json"
    path.write_text(dumps(zoo.get("fbnet_a").spec))
    code, out, _ = cli("profile", str(path), "--json", "--input-size", "224")
    assert json.loads(out)["params"] == by_name["params"]
    code, out, _ = cli("profile", "fbnet_a", "--json", "--input-size", "28", "--in-channels", "1",
                       "--num-classes", "10")
    small = json.loads(out)
    assert small["params"] < by_name["params"] and small["macs"] < by_name["macs"] and not small["adapted"]
    code, out, _ = cli("profile", "fbnet_a", "--json", "--input-size", "28", "--in-channels", "1",
                       "--num-classes", "10", "--adapt")
    adapted = json.loads(out)
    # The stem runs at stride 1 on 28 px, so maps are 2x2 larger: 4x the conv MACs, same params.
    assert adapted["adapted"] and adapted["params"] == small["params"] and adapted["macs"] > 3 * small["macs"]


@pytest.mark.parametrize("argv, needle", [
    (["zoo", "show", "nope"], "unknown zoo network 'nope'"),
    (["profile", "ir_r1_k4"], "not a zoo name"),
    (["profile", "act=re se=in | stem_k3_s2_c16 | ir_r1_k4_s1_e1_c16 | head"], "k4"),
    (["profile", "missing.json"], "does not exist"),
    (["export", "fbnet_a", "--checkpoint", "nope.pt", "--out", "x.onnx"], "does not exist"),
])
def test_user_errors_are_one_line(cli, argv, needle):
    code, out, err = cli(*argv)
    assert code == 2
    assert err.startswith("hwnas: error:") and needle in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_console_script_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "hwnas", "profile", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_export_onnx_from_cli(cli, tmp_path):
    out = tmp_path / "m.onnx"
    code, stdout, _ = cli("export", "fbnet_96_035_1", "--format", "onnx", "--out", str(out),
                          "--input-size", "32", "--num-classes", "10", "--json")
    report = json.loads(stdout)
    assert code == 0 and out.is_file() and report["max_abs_diff"] < 1e-4
    assert (tmp_path / "arch.json").is_file() and (tmp_path / "weights.pt").is_file()


def test_threads_apply_to_one_command_then_are_restored(cli, monkeypatch):
    """`hwnas --threads N COMMAND`: PyTorch's intra-op threads are N while the command runs (training on a busy
    machine is faster with 1, docs/RUN.md), and what they were afterwards."""
    import torch

    before = torch.get_num_threads()
    seen = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n, real=torch.set_num_threads: (seen.append(n), real(n)))
    code, out, _ = cli("--threads", 1, "zoo", "list")
    assert code == 0 and "mobilenetv2_100" in out
    assert seen == [1, before] and torch.get_num_threads() == before
    seen.clear()
    assert cli("zoo", "list")[0] == 0 and seen == []  # without the flag, PyTorch's own choice is left alone
    with pytest.raises(SystemExit):  # argparse's usage error, exit status 2
        cli("--threads", 0, "zoo", "list")


def test_threads_auto_takes_the_cores_the_load_leaves(cli, monkeypatch):
    """`--threads auto`: cores minus the 1-minute load average, at least 1; said on stderr."""
    import torch

    from hwnas.threads import auto_threads

    assert auto_threads(cores=2, load=0.1) == 2 and auto_threads(cores=2, load=0.9) == 1
    assert auto_threads(cores=2, load=3.7) == 1 and auto_threads(cores=16, load=4.2) == 12
    monkeypatch.setattr("hwnas.threads.os.getloadavg", lambda: (7.6, 0.0, 0.0))
    seen = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n, real=torch.set_num_threads: (seen.append(n), real(n)))
    code, _, err = cli("--threads", "auto", "zoo", "list")
    assert code == 0 and seen[0] == 1 and "1 torch thread(s)" in err

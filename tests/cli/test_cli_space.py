"""`hwnas space list|show|sample`: JSON output, seeded sampling, and arch text that `hwnas profile` accepts."""

import json
from pathlib import Path

import pytest

from hwnas.space import get_space

EXAMPLE = str(Path(__file__).resolve().parents[2] / "configs" / "spaces" / "example.yaml")



def test_space_list(cli):
    code, out, _ = cli("space", "list", "--json")
    assert code == 0 and [r["name"] for r in json.loads(out)] == ["fbnet", "hardcore", "tfnas", "spos"]
    code, out, _ = cli("space", "list")
    assert code == 0 and "HardCoRe-NAS" in out and "YAML" in out


def test_space_show(cli):
    code, out, _ = cli("space", "show", "fbnet", "--json")
    d = json.loads(out)
    assert code == 0 and d["size"] == 9 ** 22 and d["layers"] == 22 and d["input_size"] == 224
    assert d["dims"][0] == {"label": "s0_b0_op", "values": ["skip", "k3_e1_g2", "k5_e1_g2", "k3_e1", "k5_e1",
                                                             "k3_e3", "k5_e3", "k3_e6", "k5_e6"]}
    code, out, _ = cli("space", "show", "tfnas", "--input-size", "28", "--num-classes", "10", "--json")
    d = json.loads(out)
    assert d["input_size"] == 28 and d["num_classes"] == 10
    assert {"label": "s0_b0_width", "values": {"min": 16, "max": 128, "count": 113}} in d["dims"]
    code, out, _ = cli("space", "show", "spos", "--width-mult", "0.5")
    assert code == 0 and "s0_b0_width" in out and "0.2 0.4" in out and "width x0.5" in out


def test_space_sample_is_seeded_and_profilable(cli):
    argv = ("space", "sample", "hardcore", "--seed", "4", "--input-size", "28", "--in-channels", "1",
            "--num-classes", "10")
    code, text, _ = cli(*argv)
    assert code == 0 and text.startswith("act=hs se=exp | stem_k3_s1_c32 |")
    assert cli(*argv)[1] == text
    assert cli(*argv[:4], "5", *argv[5:])[1] != text
    code, out, _ = cli(*argv, "--json")
    d = json.loads(out)
    assert d["arch"] == text.strip() and d["seed"] == 4 and d["space"] == "hardcore"
    space = get_space("hardcore", input_size=28, in_channels=1, num_classes=10)
    assert space.contains(d["choice"])
    code, out, _ = cli("profile", text.strip(), "--input-size", "28", "--in-channels", "1",
                       "--num-classes", "10", "--json")
    assert code == 0 and json.loads(out)["macs"] > 0


def test_space_sample_from_a_yaml_file(cli):
    code, out, _ = cli("space", "sample", EXAMPLE, "--seed", "1", "--json")
    assert code == 0 and json.loads(out)["space"] == "example"


@pytest.mark.parametrize("argv, needle", [
    (["space", "show", "nope"], "unknown space 'nope'; valid: fbnet, hardcore, tfnas, spos"),
    (["space", "sample", "missing.yaml"], "space file missing.yaml does not exist"),
    (["space", "show", "spos", "--width-mult", "0.1"], "space 'spos' at width_mult 0.1"),
    (["space", "show", "fbnet", "--width-mult", "9"], "width_mult must be in (0, 4]"),
])
def test_space_errors_are_one_line(cli, argv, needle):
    code, _, err = cli(*argv)
    assert code == 2 and err.startswith("hwnas: error:") and needle in err and len(err.strip().splitlines()) == 1

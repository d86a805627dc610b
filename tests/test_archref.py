"""What a user types for ARCH: a zoo name, arch text, or an arch JSON file; a long text is never tried as a path."""

from __future__ import annotations

import pytest

from hwnas.archref import load_arch


def test_long_text_that_is_no_arch_gets_the_arch_message_not_an_os_error():
    text = "ir_r1_k5_s2_e3_c32_nre_se0.25," * 200  # longer than any file name (255) and any path (4096)
    with pytest.raises(ValueError, match="is not a zoo name, an arch text or an arch JSON file") as e:
        load_arch(text)
    assert "Errno" not in str(e.value) and len(str(e.value)) < 1000


def test_long_json_name_that_does_not_exist():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_arch("x" * 300 + ".json")


def test_long_arch_text_on_the_command_line_is_one_line(capsys):
    from hwnas.cli import main

    code = main(["profile", "y" * 5000])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not a zoo name" in err and "Errno" not in err


def test_hardcore_list_form_is_an_arch_everywhere(capsys):
    """The list form HardCoRe-NAS writes (longer than a file name may be) works as ARCH on the command line."""
    import json

    from hwnas.cli import main
    from tests.arch.test_listform import SEED, TIMM_SEED_PARAMS

    assert len(SEED) > 255
    code = main(["profile", SEED, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["params"] == TIMM_SEED_PARAMS[1000] and out["input_size"] == 224

"""A training run directory killed between its two metadata writes resumes (found by the kill test of hwnas run)."""

from __future__ import annotations

import pytest

from hwnas.arch import decode
from hwnas.workflows.run_dir import RunGeometry, write_run, read_run

ARCH = "act=re se=in | stem_k3_s1_c8 | ir_r1_k3_s2_e3_c16 | head"
OTHER = "act=re se=in | stem_k3_s1_c8 | ir_r1_k5_s2_e3_c16 | head"


def test_arch_json_without_run_json_is_rewritten_not_refused(tmp_path):
    geometry = RunGeometry("fashion-mnist", 28, 1, 10)
    write_run(tmp_path, decode(OTHER), geometry, resume=False)
    (tmp_path / "run.json").unlink()  # killed after arch.json, before run.json: no training began
    write_run(tmp_path, decode(ARCH), geometry, resume=True)
    assert read_run(tmp_path) == (decode(ARCH), geometry)
    with pytest.raises(ValueError, match="different architecture"):  # a complete run still guards itself
        write_run(tmp_path, decode(OTHER), geometry, resume=True)

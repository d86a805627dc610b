"""Leaving the process group under a real `torchrun`: every rank exits 0 (or with the command's error code)
and none aborts at exit.

A rank once died with "terminate called without an active exception" (SIGABRT) after its work was done: the
first functional collective (global BatchNorm) imports torch._dynamo, which imports a module whose functions
take ``group=group.WORLD`` as a default argument. Imported after the group exists, those defaults keep it alive,
so destroy_process_group() did not stop gloo's threads, and one of them, releasing a finished collective's
tensors while the interpreter finalised, was forced out of a destructor. The ranks' stderr is checked for the
abort by :func:`tests.distributed._launch.hwnas`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.distributed._launch import ROOT, hwnas

PROBE = str(ROOT / "tests" / "distributed" / "_teardown_probe.py")


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads thread names from Linux's /proc")
def test_leaving_the_group_stops_its_backend_threads(tmp_path):
    hwnas([str(tmp_path)], nproc=2, entry=[PROBE])
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for report in reports:
        assert report["size"] == 2
        assert report["before"], "the probe saw no gloo threads while in the group: it checks nothing"
        assert report["after"] == [], f"rank {report['rank']} still runs {report['after']} after leaving"


def test_ranks_exit_cleanly_when_the_command_fails():
    """A user error raised on every rank after joining: each rank reports it and leaves without waiting at the
    final barrier (a rank that failed skips it, as its peers may never get there) and without aborting. The first
    rank out exits with the usage code; torchrun then stops the others with SIGTERM, which is no abort."""
    done = hwnas(["search", "--method", "random", "--lut", "table.json", "--max-latency-ms", "1",
                  "--check-measured", "1", "--quiet"], nproc=2, expect_code=1)
    for rank in range(2):
        assert f"[default{rank}]:hwnas: error: --check-measured times networks on this machine" in done.stderr
    assert "failed (exitcode: 2)" in done.stderr

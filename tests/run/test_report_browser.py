"""The report renders in a real headless browser (Debian's chromium): its script runs, every figure is in the
rendered page, and the console has no errors. Skipped where no chromium is installed (CI installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hwnas.report.render import FIGURES

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium installed (apt-get install chromium)")


def render(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console's error lines."""
    done = subprocess.run(
        [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", f"--user-data-dir={tmp / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines()
              if "CONSOLE" in line and ("error" in line.lower() or "uncaught" in line.lower())]
    return done.stdout, errors


def test_report_renders_with_every_figure_and_no_console_error(finished, tmp_path):
    out, _, _ = finished
    dom, errors = render(out / "report.html", tmp_path)
    assert errors == []
    assert 'data-rendered="yes"' in dom and f'data-figures="{len(FIGURES)}"' in dom
    for fig in FIGURES:
        assert f'id="{fig}"' in dom


def test_the_check_sees_a_broken_page(finished, tmp_path):
    out, _, _ = finished
    broken = tmp_path / "broken.html"
    broken.write_text((out / "report.html").read_text().replace(
        "document.body.dataset.rendered = 'yes';", "document.body.dataset.rendered = 'yes'; undefinedCall();"))
    _, errors = render(broken, tmp_path)
    assert errors, "a script error must show up in the console check"

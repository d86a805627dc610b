"""The run report: ``summary.json`` (every number), ``report.html`` (self-contained) and ``report.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_report(out: Path, inputs: dict[str, Any]) -> dict[str, Any]:
    """Gather a run's outputs (:mod:`hwnas.report.summary`) and write the three files into ``out``."""
    from hwnas.report.render import write_all
    from hwnas.report.summary import build_summary
    from hwnas.fileio import write_json_atomic

    out = Path(out)
    summary = build_summary(out, inputs)
    write_json_atomic(out / "summary.json", summary)
    files = write_all(out, summary)
    return {"summary": str(out / "summary.json"), **files, "all_budgets_hold": summary["all_budgets_hold"]}

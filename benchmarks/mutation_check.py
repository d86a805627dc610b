"""Mutation check: break hwnas on purpose and list the tests of the default suite that catch it.

A test suite is only as good as the faults it catches. Each mutation below is a small edit of the package that a
real bug could make (a method that ignores its own ranking and returns the lightest feasible network, a timing
backend that returns a constant, a latency table whose calibration is ignored). For each one this script copies
the working tree (tracked and untracked, not ignored files) to a temporary folder, applies the edit there, runs
the default suite (``pytest -m 'not slow'``, as ``make test`` does) against the copy and records which tests
failed. The checkout itself is never modified.

Every mutation's outcome is cached in ``--out`` (one JSON file each), so the check resumes where it stopped;
``--redo NAME`` runs one again. The table it prints is the one in docs/RELIABILITY.md ("Mutation check"):

    python benchmarks/mutation_check.py                # every mutation (about 5 min each on 2 cores)
    python benchmarks/mutation_check.py --only const-timing
    python benchmarks/mutation_check.py --list
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    what: str  # one line for the table
    path: str  # file relative to the repository root
    old: str  # text that must occur exactly once in it
    new: str


def _lightest(method_test: str, indent: str, fixed: bool) -> str:
    """Code that replaces ``chosen`` by the lightest network that meets every budget (as
    :func:`hwnas.search.budgets.check_feasible` finds it), for one method only."""
    return (f"\n{indent}if {method_test}:  # MUTATION: ignore the method, return the lightest feasible network\n"
            f"{indent}    from hwnas.search.budgets import check_feasible as _lightest\n"
            f"{indent}    chosen = _lightest(ctx.space, ctx.constraints, largest_widths={fixed}) or chosen\n")


MUTATIONS = (
    Mutation("lightest-spos", "spos returns the lightest feasible network, not its best-scored candidate",
             "hwnas/search/parts/oneshot.py", "    best, top1 = ranked[0]\n",
             "    best, top1 = ranked[0]\n    chosen = best" + _lightest('method == "spos"', "    ", False)
             + "    best = chosen\n"),
    Mutation("lightest-random", "random returns the lightest feasible network, not its best-scored candidate",
             "hwnas/search/parts/oneshot.py", "    best, top1 = ranked[0]\n",
             "    best, top1 = ranked[0]\n    chosen = best" + _lightest('method == "random"', "    ", False)
             + "    best = chosen\n"),
    Mutation("lightest-fbnet", "fbnet returns the lightest feasible network, not the projected argmax of theta",
             "hwnas/search/parts/dnas.py", "    info = {\"argmax_choice\": argmax,",
             _lightest('method == "fbnet"', "    ", True).lstrip("\n") + "    info = {\"argmax_choice\": argmax,"),
    Mutation("lightest-tfnas", "tfnas returns the lightest feasible network, not its argmax grown to the target",
             "hwnas/search/parts/dnas.py", "        info.update(more)\n",
             "        info.update(more)" + _lightest('method == "tfnas"', "    ", False)),
    Mutation("lightest-hardcore", "hardcore returns the lightest feasible network, not its rounded alpha",
             "hwnas/search/methods/hardcore.py", "    extra = {\"rounded_choice\": rounded,",
             _lightest("True", "    ", True).lstrip("\n") + "    extra = {\"rounded_choice\": rounded,"),
    Mutation("const-timing", "every CPU timing backend returns 1 ms per call, whatever runs",
             "hwnas/cost/latency/backends.py", "        return (time.perf_counter_ns() - start) / 1e6 / number\n",
             "        return 1.0  # MUTATION: a constant timing\n"),
    Mutation("no-calibration", "latency tables ignore their calibration (predictions are raw LUT sums)",
             "hwnas/cost/latency/table.py", "        return self._calibration\n",
             "        return None  # MUTATION: calibration disabled\n"),
)


def copy_tree(dest: Path) -> None:
    """The working tree as git sees it: tracked and untracked files, ignored ones (the venv, runs/) left out."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def apply(mutation: Mutation, tree: Path) -> None:
    path = tree / mutation.path
    text = path.read_text()
    if text.count(mutation.old) != 1:
        raise SystemExit(f"mutation {mutation.name}: the text to replace occurs {text.count(mutation.old)} times "
                         f"in {mutation.path} (the code moved: update the mutation)")
    path.write_text(text.replace(mutation.old, mutation.new))


def run_suite(tree: Path, extra: list[str]) -> dict:
    """The default suite on ``tree`` (its package shadows the installed one through PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=no", "-rfE", *extra]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    failed = sorted({m.group(2) for line in lines if (m := re.match(r"(FAILED|ERROR) (\S+)", line))})
    summary = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed)", line)), "")
    return {"returncode": proc.returncode, "failed": failed, "summary": summary.strip("= "),
            "seconds": round(time.monotonic() - start, 1)}


def check_import(tree: Path) -> None:
    """The suite must import the mutated copy, not the checkout (an editable install points at the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run([sys.executable, "-c", "import hwnas; print(hwnas.__file__)"], cwd=tree, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the copy imports hwnas from {where}, not from {tree}: the check would test nothing")


def short(test_id: str) -> str:
    return test_id.removeprefix("tests/")


def table(results: dict[str, dict]) -> str:
    rows = ["| mutation | caught | failing tests (default suite) | suite |", "|---|---|---|---|"]
    for m in MUTATIONS:
        r = results.get(m.name)
        if r is None:
            rows.append(f"| {m.name}: {m.what} | not run | | |")
            continue
        caught = "yes" if r["failed"] else "**NO**"
        tests = "<br>".join(short(t) for t in r["failed"]) or "none"
        rows.append(f"| {m.name}: {m.what} | {caught} ({len(r['failed'])}) | {tests} | {r['summary']}, "
                    f"{r['seconds']:.0f} s |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "mutation_check")
    parser.add_argument("--only", nargs="*", help="run these mutations only")
    parser.add_argument("--redo", nargs="*", default=[], help="run these again even if cached")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments, e.g. 'tests/search'")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:20s} {m.what}")
        return 0
    names = {m.name for m in MUTATIONS}
    for name in (args.only or []) + args.redo:
        if name not in names:
            parser.error(f"unknown mutation {name!r}; valid: {', '.join(sorted(names))}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for m in MUTATIONS:
        cached = args.out / f"{m.name}.json"
        if cached.is_file():
            results[m.name] = json.loads(cached.read_text())
        if args.only and m.name not in args.only:
            continue
        if m.name in results and m.name not in args.redo:
            continue
        with tempfile.TemporaryDirectory(prefix=f"hwnas-mutant-{m.name}-") as tmp:
            tree = Path(tmp)
            copy_tree(tree)
            apply(m, tree)
            check_import(tree)
            print(f"[{m.name}] {m.what}: running the default suite ...", flush=True)
            result = run_suite(tree, args.pytest_args.split())
        result["mutation"] = {"name": m.name, "what": m.what, "path": m.path}
        cached.write_text(json.dumps(result, indent=2) + "\n")
        results[m.name] = result
        print(f"[{m.name}] {len(result['failed'])} failing: {result['summary']} ({result['seconds']:.0f} s)",
              flush=True)
    print(table(results))
    missed = [m.name for m in MUTATIONS if m.name in results and not results[m.name]["failed"]]
    if missed:
        print(f"NOT caught: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

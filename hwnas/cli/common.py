"""What every ``hwnas`` command module shares: printing a result, argument types, common flags, error handling.

Command modules import this one and nothing else of :mod:`hwnas.cli`; :mod:`hwnas.cli` imports the command
modules, never the reverse, so there is no cycle.

User errors (bad arch text, unknown names, missing files) print one line ``hwnas: error: ...`` and exit 2, work
that fails (a download, a diverged training run) prints one line and exits 1; nothing a user can cause prints a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

EXIT_USAGE = 2  # the user asked for something that cannot be done (bad arch, unknown name, missing file)
EXIT_FAILED = 1  # the request was valid but the work failed (download error, diverged training)


def print_result(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``text``, or ``data`` as JSON when the command was given ``--json``."""
    from hwnas.distributed import is_main

    if is_main():  # under torchrun, one rank reports
        print(json.dumps(data, indent=2) if getattr(args, "json", False) else text)


def warn_uncalibrated(table: Any) -> None:
    """One line on stderr when ``table`` (a latency table) predicts without a calibration."""
    line = table.uncalibrated_warning
    if line is not None:
        print(line, file=sys.stderr)


def announcer(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines for a long command: printed as they come, silent under ``--json``."""
    if getattr(args, "json", False):
        return lambda line: None
    return lambda line: print(line, flush=True)


def _number(text: str, convert: Callable[[str], Any], ok: Callable[[Any], bool], expected: str) -> Any:
    """``convert(text)`` when it parses and ``ok`` holds, else the one-line argparse error naming ``expected``."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def thread_count(text: str) -> int | str:
    """argparse type: a positive integer, or ``auto`` (:func:`hwnas.threads.auto_threads` at the start)."""
    return "auto" if text.strip().lower() == "auto" else positive_int(text)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (a width multiplier, a budget)."""
    return _number(text, float, lambda v: 0 < v < float("inf"), "a positive number")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a count that may be zero, e.g. warm-up rounds)."""
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


def common_flags(p: argparse.ArgumentParser) -> None:
    """Data location, device, seed and output flags of the commands that train (train, eval, search)."""
    p.add_argument("--data-dir", help="where the dataset lives (else $HWNAS_DATA, system dirs, the cache)")
    p.add_argument("--download", action="store_true", help="download the dataset if it is not found")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def geometry_flags(p: argparse.ArgumentParser) -> None:
    """Input size, channels and classes of a network given as ARCH."""
    p.add_argument("--input-size", type=positive_int, help="input resolution (default: the network's own, else 224)")
    p.add_argument("--in-channels", type=positive_int, default=3, help="input channels (default 3)")
    p.add_argument("--num-classes", type=positive_int, default=1000, help="classifier width (default 1000)")


def final_map_flag(p: argparse.ArgumentParser) -> None:
    """``--min-final-map``: how far the small-input transform may go."""
    from hwnas.arch.transform import MIN_FINAL_MAP

    p.add_argument("--min-final-map", type=positive_int, default=MIN_FINAL_MAP, metavar="N",
                   help=f"small-input transform: drop downsamplings until the last feature map is >= N px a side "
                        f"(default {MIN_FINAL_MAP}; 4 is the CIFAR-style total stride 8 on 28-32 px, ~3x the MACs)")


def one_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def run_reporting_errors(command: Callable[[], None]) -> int:
    """Run ``command``; a user error or a failed piece of work becomes one line on stderr and an exit code."""
    try:
        command()
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as e:
        print(f"hwnas: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # DownloadError and other I/O failures: worth a retry, not a usage mistake
        print(f"hwnas: error: {one_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeError as e:
        from hwnas.train import NonFiniteLossError

        if not isinstance(e, NonFiniteLossError):
            raise  # a bug: keep the traceback
        print(f"hwnas: error: {one_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("hwnas: interrupted", file=sys.stderr)
        return 130
    return 0

"""The ``hwnas`` command line. Each subcommand parses its arguments and makes one call into the library.

One module per command group (:mod:`~hwnas.cli.zoo`, :mod:`~hwnas.cli.space`, :mod:`~hwnas.cli.profile`,
:mod:`~hwnas.cli.train`, :mod:`~hwnas.cli.data`, :mod:`~hwnas.cli.lut`, :mod:`~hwnas.cli.latency`,
:mod:`~hwnas.cli.search`, :mod:`~hwnas.cli.run`), each with ``add_commands(subparsers)``; what they share is in
:mod:`hwnas.cli.common` (printing, argument types, common flags, the one-line error handling).
"""

from __future__ import annotations

import argparse
import sys

from hwnas.cli import data, latency, lut, profile, run, search, space, train, zoo
from hwnas.cli.common import run_reporting_errors, thread_count
from hwnas.threads import auto_threads, torch_threads

COMMAND_GROUPS = (zoo, space, profile, train, data, lut, latency, search, run)  # the order of `hwnas --help`
DISTRIBUTED_COMMANDS = ("train", "search")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwnas", description="Hardware-aware neural architecture search.")
    parser.add_argument("--threads", type=thread_count,
                        help="PyTorch intra-op threads for training and searching (default: PyTorch's, one per "
                             "core); 'auto': the cores left free by the load average, at least 1. On a busy "
                             "machine fewer threads are faster (docs/RUN.md); latency tables have their own "
                             "threads setting")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_commands(sub)
    return parser


def _join_torchrun(args: argparse.Namespace) -> None:
    """Under torchrun: join the process group, put each rank on its device, resume after a restart."""
    from hwnas import distributed

    if not distributed.launched_by_torchrun():
        return
    if args.command not in DISTRIBUTED_COMMANDS:
        raise ValueError(f"`hwnas {args.command}` does not run under torchrun; the data-parallel commands are "
                         + ", ".join(f"`hwnas {c}`" for c in DISTRIBUTED_COMMANDS))
    world = distributed.init_from_env(args.device)
    args.device = distributed.device_for(args.device)
    if distributed.restarted() and not args.resume:
        args.resume = True  # torchrun --max-restarts started us again: continue from the last checkpoint
        if world.is_main:
            print(f"hwnas: restarted by torchrun: resuming from the last checkpoint in {args.out}", file=sys.stderr)
    if not world.is_main:
        args.quiet = True


def main(argv: list[str] | None = None) -> int:
    """Run one command; under torchrun, leave the process group on every way out, exceptions included."""
    from hwnas import distributed

    completed = False
    try:
        code = _main(argv)
        completed = code == 0
        return code
    except BaseException as e:
        if distributed.current().active:
            _drop_locals(e)
        raise
    finally:
        # Every rank that completed waits for the others before leaving; a rank that failed leaves at once, as
        # its peers may never reach that barrier. A no-op for one process.
        distributed.shutdown(wait_for_peers=completed)


def _drop_locals(e: BaseException) -> None:
    """Clear the local variables of the frames ``e`` unwound (the traceback still prints file and line).

    They hold the models, and a DistributedDataParallel wrapper holds the process group: kept alive by the
    escaping exception, the group would be destroyed only while the interpreter finalises, when its backend
    threads can no longer take the GIL and the process aborts on top of the error it reports.
    """
    import traceback

    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:  # chained exceptions keep frames of their own
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def command() -> None:
        _join_torchrun(args)
        threads = args.threads
        if threads == "auto":
            threads = auto_threads()
            print(f"hwnas: {threads} torch thread(s) (--threads auto: the cores the load average leaves free)",
                  file=sys.stderr)
        with torch_threads(threads):
            args.func(args)

    return run_reporting_errors(command)


if __name__ == "__main__":
    sys.exit(main())

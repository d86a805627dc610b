"""torchrun entry point for the restart test: `python -m hwnas ARGS`, except that on the first attempt rank 1
SIGKILLs itself at its Nth training step (a worker lost mid-epoch). torchrun --max-restarts then starts every
rank again, and `hwnas` resumes from the last checkpoint."""

import os
import signal
import sys

import hwnas.train.loop as loop
from hwnas.cli import main

KILL_AT = int(os.environ["HWNAS_TEST_KILL_AT_STEP"])

if os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0" and os.environ.get("RANK") == "1":
    original, calls = loop._train_step, [0]

    def dying_step(run, x, y):
        calls[0] += 1
        if calls[0] == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(run, x, y)

    loop._train_step = dying_step

sys.exit(main(sys.argv[1:]))

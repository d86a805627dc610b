"""`python -m hwnas ...` (also what `torchrun -m hwnas` runs)."""

import sys

from hwnas.cli import main

sys.exit(main())

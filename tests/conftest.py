"""Suite-wide settings.

Tests run on one torch thread: their tensors are tiny, so intra-op threads buy nothing, and on a shared 2-core
machine (or beside a training job) OpenMP threads spinning against each other make the suite several times slower.
"""

import torch

torch.set_num_threads(1)

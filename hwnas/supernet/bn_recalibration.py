"""BatchNorm recalibration of one path of a supernet.

Weight sharing leaves the BN running statistics of a supernet averaged over every path that was trained, which
matches no single child. SPOS (Guo et al. 2019) therefore recomputes them for each candidate on a few
training batches before evaluating it; Once-for-All (Cai et al. 2020) does the same for every subnet it measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from hwnas.supernet.supernet import Supernet


def recalibrate_bn(supernet: Supernet, choice: Mapping[str, Any], batches: Iterable[Any]) -> int:
    """Reset the BN statistics of ``choice``'s path and re-estimate them on ``batches``; return the batch count.

    ``choice`` becomes the active path. Each BN on the path (stem, blocks, nothing in the head) restarts from
    mean 0 / variance 1 and accumulates the *cumulative* average over the batches (``momentum=None``), so
    the result does not depend on the order of the batches and equals the batch statistics for one batch. The
    whole buffer of each such BN is reset, also channels beyond the active width (they are re-estimated whenever
    a wider path is recalibrated). Momentum and train/eval mode are restored afterwards, even on error.
    ``batches`` yields input tensors or ``(inputs, targets)`` pairs; inputs move to the supernet's device.
    """
    supernet.set_active(choice)
    modules = [supernet.stem, *supernet.path_blocks(choice)]
    bns = [m for module in modules for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    was_training = supernet.training
    device = supernet.stem.conv.weight.device
    count = 0
    try:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        supernet.train()
        with torch.no_grad():
            for batch in batches:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                supernet(x.to(device))
                count += 1
    finally:
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        supernet.train(was_training)
    if count == 0:
        raise ValueError("recalibrate_bn needs at least one batch; got an empty iterable")
    return count

"""Folding BatchNorm into the convolution before it, for deployment.

At inference a BatchNorm is the affine map ``y = gamma * (x - mu) / sqrt(var + eps) + beta`` per channel, so the
convolution before it absorbs it: ``W' = W * gamma / sigma`` per output channel and ``b' = (b - mu) * gamma /
sigma + beta`` (Jacob et al. 2018, "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-
Only Inference", Sec. 3.2; the merge-BN step of the SPOS deployment tools). The folded network computes the same
function with one op fewer per conv: what an int8 converter and a TorchScript runtime want (ONNX Runtime folds it
itself at graph optimisation, so ONNX latency does not change).
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from hwnas.nn.layers import ConvBnAct


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``model`` with every conv-BN pair folded (``model`` is left as it is); returns
    ``(folded copy, number of BatchNorms folded)``. Every hwnas BatchNorm sits in a :class:`ConvBnAct` after its
    conv; a BatchNorm anywhere else is an error rather than silently left in."""
    folded = copy.deepcopy(model).eval()
    count = 0
    for module in folded.modules():
        if isinstance(module, ConvBnAct) and isinstance(module.bn, nn.modules.batchnorm._BatchNorm):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.bn = nn.Identity()
            count += 1
    left = [name for name, m in folded.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if left:
        raise ValueError(f"BatchNorm layers not after a conv cannot be folded: {', '.join(left[:5])}")
    return folded, count

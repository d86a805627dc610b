"""Count parameters and multiply-adds of a real module by running it: the independent check of
:mod:`hwnas.cost.counting`.

Forward hooks on every ``nn.Conv2d`` and ``nn.Linear`` record ``weight.numel() * output positions`` (the MAC
convention of :mod:`hwnas.cost.counting`: weights only, no bias, BN, activation or pooling). Parameters are
``sum(p.numel() for p in model.parameters())``.
"""

from __future__ import annotations

import torch
from torch import nn


def count_with_hooks(model: nn.Module, input_size: int = 224, in_channels: int = 3) -> dict[str, int]:
    """``{"params", "macs"}`` of ``model`` measured on one forward pass of a batch-1 square input.

    The model runs in eval mode without gradients; its training flag is restored afterwards.
    """
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input size must be a positive integer, got {input_size!r}")
    macs = 0

    def conv_hook(module: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        macs += module.weight.numel() * output.shape[2] * output.shape[3]

    def linear_hook(module: nn.Linear, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        # Per sample: every output element of the batch-1 input costs in_features MACs.
        macs += module.weight.numel() * (output.numel() // output.shape[0] // module.out_features)

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    param = next(model.parameters(), None)
    x = torch.zeros(1, in_channels, input_size, input_size,
                    device=param.device if param is not None else None,
                    dtype=param.dtype if param is not None else None)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return {"params": sum(p.numel() for p in model.parameters()), "macs": macs}

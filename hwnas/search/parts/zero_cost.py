"""Training-free scores of an architecture: NASWOT (Mellor et al. 2021).

NASWOT ("Neural Architecture Search without Training", Mellor, Turner, Storkey and Crowley, ICML 2021, Sec. 3,
Eq. 2) scores an untrained network by how differently it treats the inputs of one mini-batch. Each input
``i`` of a batch of ``N`` leaves a binary code ``c_i`` over the network's ``N_A`` rectified units (1 where the
unit is active, its pre-activation positive). The kernel

    K_H[i, j] = N_A - d_H(c_i, c_j)

counts the units on which inputs ``i`` and ``j`` agree (``d_H``: Hamming distance), and the score is
``s = log |K_H|``. A network whose rectifiers already separate the inputs at initialisation has a kernel close
to diagonal-dominant and a large log-determinant; the paper finds it correlates with trained accuracy.

The codes are taken with the network in training mode, as in the paper's released evaluation, so batch
normalisation uses the batch's own statistics (at initialisation the running statistics are the identity and say
nothing about the data).
"""

from __future__ import annotations

import torch
from torch import nn

RECTIFIERS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)


def agreement(codes: torch.Tensor) -> torch.Tensor:
    """One layer's share of ``K_H`` (Eq. 2): for codes ``(N, units)`` of 0/1, the units on which each pair of
    inputs agrees, ``units - d_H`` (both active plus both inactive), as float64 ``(N, N)``."""
    c = codes.flatten(1).to(torch.float32)  # 0/1 products: exact in float32 for any layer of < 2**24 units
    return (c @ c.T + (1.0 - c) @ (1.0 - c).T).to(torch.float64)


def naswot_score(model: nn.Module, x: torch.Tensor,
                 rectifiers: tuple[type[nn.Module], ...] = RECTIFIERS) -> float:
    """NASWOT score ``log |K_H|`` of ``model`` on the batch ``x`` (Mellor et al. 2021, Eq. 2).

    Every module of a type in ``rectifiers`` contributes its output's sign pattern (its units' on/off codes).
    The model is left in the mode it had (its BN running statistics take one update); no gradient is taken. A
    singular kernel (two identical codes, e.g. a batch with repeated images) scores ``-inf``.
    """
    kernel: list[torch.Tensor] = []  # the running sum over layers, summed in the hook so no code is kept

    def add(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        share = agreement(output.detach() > 0)
        if kernel:
            kernel[0] += share
        else:
            kernel.append(share)

    hooks = [m.register_forward_hook(add) for m in model.modules() if isinstance(m, rectifiers)]
    if not hooks:
        raise ValueError(f"{type(model).__name__} has no {'/'.join(t.__name__ for t in rectifiers)} module: "
                         "NASWOT scores rectifier codes")
    was_training = model.training
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    sign, logdet = torch.linalg.slogdet(kernel[0])
    return float(logdet) if float(sign) > 0 else float("-inf")

"""One slot of a supernet: its candidates' modules, independent or entangled.

Two ways to hold a slot's candidates (``sharing``):

* ``independent``: one builder block per candidate (SPOS, Guo et al. 2019; FBNet, Wu et al. 2019). Each candidate
  of a 9-way slot is trained by about one step in nine, and what it learns does not help its neighbours.
* ``entangled``: candidates whose block type says they can share (:meth:`hwnas.blocks.base.BlockType.share_key`:
  inverted residuals of one slot that differ in kernel, expansion or squeeze-excite) are one module, built at the
  largest kernel, mid width and SE width among them; a candidate runs as a slice of it (a k x k depthwise kernel
  is the centre of the largest, an expansion the leading channels of the 1x1 convs and of SE). This is the weight
  sharing of Once-for-All (Cai et al. 2020, Sec. 3.2), BigNAS (Yu et al. 2020) and HardCoRe-NAS's superblock
  (Nayman et al. 2021, Sec. 3.1), where training the heaviest path warms every sub-network. Candidates that
  cannot share (FBNet's grouped convs, skips, the SPOS space's shuffle and xception blocks) keep their own.

Batch norm is shared too (the leading channels of the module's BNs): a candidate's running statistics are
recalibrated before it is scored or extracted for evaluation (:func:`hwnas.supernet.recalibrate_bn`, as SPOS and
Once-for-All do), and training-mode BN uses batch statistics, so per-candidate statistics would only matter for a
supernet evaluated without recalibration, which hwnas never does.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from hwnas.arch.resolve import Layer
from hwnas.blocks.registry import block_type, create_block
from hwnas.blocks.slicing import KernelTransforms
from hwnas.space.base import Slot

SHARING_MODES = ("independent", "entangled")


def check_sharing(sharing: str) -> str:
    if sharing not in SHARING_MODES:
        raise ValueError(f"sharing must be one of {', '.join(SHARING_MODES)}, got {sharing!r}")
    return sharing


def _groups(layers: list[Layer], entangled: bool) -> list[list[int]]:
    """Candidate indices grouped by share key, in order of first appearance; unshareable ones alone."""
    groups: dict[object, list[int]] = {}
    for i, layer in enumerate(layers):
        key = block_type(layer.type).share_key(layer) if entangled else None
        groups.setdefault(("own", i) if key is None else key, []).append(i)
    return list(groups.values())


def _largest(layers: list[Layer]) -> Layer:
    """The layer a shared module is built with: the first candidate's, at the largest kernel and widths."""
    return replace(layers[0], kernel=max(x.kernel for x in layers), mid=max(x.mid for x in layers),
                   se_ch=max(x.se_ch for x in layers))


class ChoiceLayer(nn.Module):
    """One slot's candidates (in the slot's order) at the slot's largest width: one module per candidate
    (``independent``) or one per group of candidates that share weights (``entangled``, module docstring).

    ``kernel_transform`` (entangled only) adds Once-for-All's kernel transformation matrices: per shared module
    and smaller kernel size ``k`` one ``k*k x k*k`` matrix, initialised to the identity.
    """

    def __init__(self, slot: Slot, layers: list[Layer], sharing: str = "independent",
                 kernel_transform: bool = False) -> None:
        super().__init__()
        check_sharing(sharing)
        self.names = tuple(slot.candidates)
        self.full_layers = tuple(layers)  # each candidate at its largest width
        groups = _groups(layers, sharing == "entangled")
        owner = [0] * len(layers)
        module_layers = []
        for m, members in enumerate(groups):
            for i in members:
                owner[i] = m
            module_layers.append(_largest([layers[i] for i in members]))
        self.owner = tuple(owner)  # candidate index -> module index
        self.module_layers = tuple(module_layers)  # the widths each module was built with
        self.ops = nn.ModuleList(create_block(layer) for layer in module_layers)
        self.kernel_transforms = nn.ParameterDict()
        if kernel_transform:
            for m, members in enumerate(groups):
                for k in sorted({layers[i].kernel for i in members} - {module_layers[m].kernel}):
                    self.kernel_transforms[f"m{m}_k{k}"] = nn.Parameter(torch.eye(k * k))

    def index(self, name: str) -> int:
        return self.names.index(name)

    def module(self, index: int) -> nn.Module:
        """The module candidate ``index`` runs on (its own, or the one it shares)."""
        return self.ops[self.owner[index]]

    def module_layer(self, index: int) -> Layer:
        return self.module_layers[self.owner[index]]

    def transforms(self, index: int) -> KernelTransforms | None:
        """Kernel size -> transform matrix of candidate ``index``'s module (``None`` without transforms)."""
        prefix = f"m{self.owner[index]}_k"
        found = {int(key[len(prefix):]): p for key, p in self.kernel_transforms.items() if key.startswith(prefix)}
        return found or None

    def extra_repr(self) -> str:
        shared = len(self.names) - len(self.ops)
        return f"candidates={list(self.names)}" + (f", {shared} sharing weights" if shared else "")

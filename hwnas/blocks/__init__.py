"""Block types: one package per type of the arch grammar, holding everything about it (its grammar fields, its
widths and residual, its ``nn.Module``, its counts, its latency-table key, its elastic forward in a supernet), and
the registry (:mod:`hwnas.blocks.registry`) that is the one place dispatching on a type name.

==================================  ============================================================================
package                             types
==================================  ============================================================================
:mod:`.inverted_residual`           ``ir`` (MobileNetV2 MBConv, FBNet group convs, SE, TF-NAS elastic mid width)
:mod:`.depthwise_separable`         ``ds``, ``dsa``
:mod:`.conv`                        ``cn``
:mod:`.skip`                        ``skip`` (FBNet)
:mod:`.shuffle`                     ``shuffle``, ``xception`` (SPOS ShuffleNetV2 choice blocks)
==================================  ============================================================================

Shared parts: :mod:`.base` (the :class:`~hwnas.blocks.base.BlockType` contract), :mod:`.counting` (ops and live
memory), :mod:`.slicing` (leading-channel copy and sliced forwards, torch). Each type's package is pure Python;
its ``module.py`` holds the torch module, imported when a module is first built.
"""

"""Analytic parameter, multiply-add and peak-activation counts of an ArchSpec (pure Python, no torch).

Every count is derived from :func:`hwnas.arch.resolve_layers` and :func:`hwnas.arch.feature_sizes`, the same
values the model builder uses; each block type lists its own ops and live steps (``BlockType.cost``,
:mod:`hwnas.blocks`), summed here. :func:`hwnas.cost.hooks.count_with_hooks` cross-checks them on a real module.

**Parameters** (:func:`count_params`): every parameter, as ``sum(p.numel() for p in model.parameters())``:
conv and linear weights, conv/linear biases (SE convs, the post-pool head conv, the classifier), and the weight
and bias of every BatchNorm. BN running statistics are buffers, not parameters.

**MACs** (:func:`count_macs`): multiply-accumulates of the weighted layers, which is what the FBNet (Wu et al.
2019), MobileNet (Sandler et al. 2018; Howard et al. 2019) and MnasNet (Tan et al. 2019) papers call "FLOPs":

* conv: ``k * k * (c_in / groups) * c_out * H_out * W_out``, including the SE 1x1 convs on their 1x1 pooled map;
* linear: ``in_features * out_features``.

Not counted: BatchNorm (folded into the conv at inference), activations, pooling, the SE multiply, residual adds,
concatenations, channel shuffles and biases. So 2 x MACs is *not* the FLOP count of any real kernel; it is the
convention that makes our numbers comparable to the published ones.

**Peak activation memory** (:func:`peak_activation_bytes`): a model of the largest set of feature maps that must
be alive at once during a batch-``batch`` inference, executing the network op by op in the obvious order:

* Each weighted op (conv, SE multiply, concat, channel shuffle, linear) needs its input and its output alive at
  the same time, plus every tensor held for later use: the block input while a residual add or the untouched
  half / projection branch of a ShuffleNetV2 unit still needs it.
* BatchNorm is folded into the conv and activations run in place, so neither allocates a tensor. The residual add
  writes into its output (in place). Channel splits are views (free).
* A tensor is freed as soon as its last reader is done. Weights, the SE pooled vectors (a few hundred numbers)
  and allocator overhead are ignored; the input image counts while the stem reads it.
* Peak = max over all ops of the live elements, times ``dtype_bytes * batch``.

This is the usual "input + output + held" model of MCU-scale memory planners (e.g. MCUNet, Lin et al. 2020):
frameworks that fuse ops can go lower, naive ones that keep every output go higher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from hwnas.arch.resolve import Layer, feature_sizes, resolve_layers
from hwnas.arch.spec import ArchSpec
from hwnas.blocks.counting import BlockCost, ConvOp
from hwnas.blocks.registry import block_type, block_types


class _BlockCosts(Mapping[str, Callable[[Layer, int], BlockCost]]):
    """Block type -> its cost walk (each registered type's ``BlockType.cost``, :mod:`hwnas.blocks`), read live
    from the registry so that a type registered later is counted too."""

    def __getitem__(self, name: str) -> Callable[[Layer, int], BlockCost]:
        if name not in block_types():
            raise KeyError(name)
        return block_type(name).cost

    def __iter__(self) -> Iterator[str]:
        return iter(block_types())

    def __len__(self) -> int:
        return len(block_types())


BLOCK_COSTS = _BlockCosts()


def block_cost(layer: Layer, size: int) -> BlockCost:
    """Ops and live-memory steps of one resolved layer on a ``size`` x ``size`` input."""
    if layer.type not in BLOCK_COSTS:
        raise ValueError(f"no cost model for block type {layer.type!r}; known: {', '.join(sorted(BLOCK_COSTS))}")
    return BLOCK_COSTS[layer.type](layer, size)


def _head_cost(spec: ArchSpec, in_ch: int, size: int, num_classes: int) -> BlockCost:
    """Pool -> [1x1 conv with bias, no BN] -> linear (as a 1x1 conv on the pooled map)."""
    features = spec.head.features
    ops = []
    if features:
        ops.append(ConvOp(in_ch, features, 1, 1, 1, 1, bn=False, bias=True))
    ops.append(ConvOp(features or in_ch, num_classes, 1, 1, 1, 1, bn=False, bias=spec.head.fc_bias))
    live = [in_ch * size ** 2 + in_ch] + [op.cin + op.cout for op in ops]  # pool, then the vectors
    return BlockCost(tuple(ops), tuple(live))


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _entry(label: str, kind: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...], cost: BlockCost,
           bytes_per_elem: int) -> dict:
    return {
        "label": label,
        "type": kind,
        "in_shape": in_shape,
        "out_shape": out_shape,
        "params": sum(op.params for op in cost.ops),
        "bn_params": sum(op.bn_params for op in cost.ops),
        "macs": sum(op.macs for op in cost.ops),
        "peak_bytes": max(cost.live) * bytes_per_elem,
    }


def per_layer_costs(spec: ArchSpec, input_size: int = 224, num_classes: int = 1000, in_channels: int = 3,
                    dtype_bytes: int = 4, batch: int = 1) -> list[dict]:
    """One dict per stem / resolved layer / head, in execution order.

    Keys: ``label`` (``stem``, ``s{stage}_b{index}``, ``head``), ``type``, ``in_shape`` and ``out_shape``
    (C, H, W; the head's output is (num_classes,)), ``params`` (all, BN included), ``bn_params`` (the BN
    weights and biases among them), ``macs`` and ``peak_bytes`` (the peak live activation memory while this entry
    runs, see the module docstring).
    """
    for name, value in (("num_classes", num_classes), ("in_channels", in_channels), ("dtype_bytes", dtype_bytes),
                        ("batch", batch)):
        _check_positive(name, value)
    stem_size, sizes = feature_sizes(spec, input_size)
    nbytes = dtype_bytes * batch
    stem_op = ConvOp(in_channels, spec.stem.out, spec.stem.kernel, spec.stem.stride, 1, input_size)
    stem = BlockCost((stem_op,), (in_channels * input_size ** 2 + spec.stem.out * stem_size ** 2,))
    rows = [_entry("stem", "stem", (in_channels, input_size, input_size), (spec.stem.out, stem_size, stem_size),
                   stem, nbytes)]
    layers = resolve_layers(spec)
    for layer, (size, out) in zip(layers, sizes):
        rows.append(_entry(layer.label, layer.type, (layer.in_ch, size, size), (layer.out_ch, out, out),
                           block_cost(layer, size), nbytes))
    last, size = layers[-1].out_ch, sizes[-1][1]
    rows.append(_entry("head", "head", (last, size, size), (num_classes,), _head_cost(spec, last, size, num_classes),
                       nbytes))
    return rows


def count_params(spec: ArchSpec, num_classes: int = 1000, in_channels: int = 3, include_bn: bool = True) -> int:
    """All parameters of ``build_model(spec, num_classes, in_channels)``, BN weights/biases and biases included.

    ``include_bn=False`` leaves out the BatchNorm weights and biases, the convention of the TF-slim MobileNet
    README (MobileNetV2-1.0: 3.47M, which is exactly our count without BN) and of mobile-vision's FBNet tables.
    """
    # Parameter counts do not depend on the input size; 1 px is the cheapest walk.
    rows = per_layer_costs(spec, 1, num_classes, in_channels)
    return sum(row["params"] - (0 if include_bn else row["bn_params"]) for row in rows)


def count_macs(spec: ArchSpec, input_size: int = 224, num_classes: int = 1000, in_channels: int = 3) -> int:
    """Multiply-adds of conv and linear weights at a square ``input_size`` (the papers' "FLOPs")."""
    return sum(row["macs"] for row in per_layer_costs(spec, input_size, num_classes, in_channels))


def peak_activation_bytes(spec: ArchSpec, input_size: int = 224, in_channels: int = 3, dtype_bytes: int = 4,
                          batch: int = 1, num_classes: int = 1000) -> int:
    """Modelled peak live activation memory of one inference (see the module docstring for the model)."""
    rows = per_layer_costs(spec, input_size, num_classes, in_channels, dtype_bytes, batch)
    return max(row["peak_bytes"] for row in rows)

"""Analytic parameter, multiply-add and peak-activation counts of an ArchSpec (pure Python, no torch).

Every count is derived from :func:`hwnas.arch.resolve_layers` and :func:`hwnas.arch.feature_sizes`, the same
values the model builder uses; :func:`hwnas.cost.hooks.count_with_hooks` cross-checks them on a real module.

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

from dataclasses import dataclass
from typing import Callable

from hwnas.arch.resolve import Layer, conv_out_size, feature_sizes, resolve_layers
from hwnas.arch.spec import ArchSpec


@dataclass(frozen=True)
class ConvOp:
    """One conv (or a linear layer: a 1x1 conv on a 1x1 map) with the spatial size of its input."""

    cin: int
    cout: int
    kernel: int
    stride: int
    groups: int
    size: int  # input height = width
    bn: bool = True  # followed by a BatchNorm (weight + bias)
    bias: bool = False

    @property
    def out_size(self) -> int:
        return conv_out_size(self.size, self.stride)

    @property
    def weights(self) -> int:
        return self.kernel * self.kernel * (self.cin // self.groups) * self.cout

    @property
    def bn_params(self) -> int:
        return 2 * self.cout if self.bn else 0

    @property
    def params(self) -> int:
        return self.weights + self.bn_params + (self.cout if self.bias else 0)

    @property
    def macs(self) -> int:
        return self.weights * self.out_size * self.out_size


@dataclass(frozen=True)
class BlockCost:
    """The weighted ops of one block and the live feature-map elements (per image) at each step of its run."""

    ops: tuple[ConvOp, ...]
    live: tuple[int, ...]


def _pw(cin: int, cout: int, size: int, groups: int = 1, stride: int = 1) -> ConvOp:
    return ConvOp(cin, cout, 1, stride, groups, size)


def _dw(ch: int, kernel: int, size: int, stride: int = 1) -> ConvOp:
    return ConvOp(ch, ch, kernel, stride, ch, size)


def _se(ch: int, se_ch: int) -> tuple[ConvOp, ...]:
    """The two biased, BN-free 1x1 convs of a squeeze-excite on the pooled 1x1 map (Hu et al. 2018)."""
    if not se_ch:
        return ()
    return ConvOp(ch, se_ch, 1, 1, 1, 1, bn=False, bias=True), ConvOp(se_ch, ch, 1, 1, 1, 1, bn=False, bias=True)


def _ir_cost(layer: Layer, size: int) -> BlockCost:
    """Inverted residual: 1x1 (g) -> [shuffle] -> dw k (stride) -> [SE] -> 1x1 (g) -> [+ x]."""
    out = conv_out_size(size, layer.stride)
    x, mid, mid2, y = layer.in_ch * size ** 2, layer.mid * size ** 2, layer.mid * out ** 2, layer.out_ch * out ** 2
    held = x if layer.residual else 0
    ops = (_pw(layer.in_ch, layer.mid, size, layer.groups), _dw(layer.mid, layer.kernel, size, layer.stride),
           *_se(layer.mid, layer.se_ch), _pw(layer.mid, layer.out_ch, out, layer.groups))
    live = [x + mid]  # the expansion reads x (held or not, x is counted once here)
    if layer.groups > 1:
        live.append(held + 2 * mid)  # the shuffle copies the expanded map
    live.append(held + mid + mid2)
    if layer.se_ch:
        live.append(held + 2 * mid2)  # x * gate writes a new map
    live.append(held + mid2 + y)
    return BlockCost(ops, tuple(live))


def _ds_cost(layer: Layer, size: int) -> BlockCost:
    """Depthwise-separable (``ds``/``dsa``): dw k (stride) -> [SE] -> 1x1 -> [+ x]."""
    out = conv_out_size(size, layer.stride)
    x, mid2, y = layer.in_ch * size ** 2, layer.in_ch * out ** 2, layer.out_ch * out ** 2
    held = x if layer.residual else 0
    ops = (_dw(layer.in_ch, layer.kernel, size, layer.stride), *_se(layer.in_ch, layer.se_ch),
           _pw(layer.in_ch, layer.out_ch, out))
    live = [x + mid2] + ([held + 2 * mid2] if layer.se_ch else []) + [held + mid2 + y]
    return BlockCost(ops, tuple(live))


def _cn_cost(layer: Layer, size: int) -> BlockCost:
    out = conv_out_size(size, layer.stride)
    op = ConvOp(layer.in_ch, layer.out_ch, layer.kernel, layer.stride, 1, size)
    return BlockCost((op,), (layer.in_ch * size ** 2 + layer.out_ch * out ** 2,))


def _skip_cost(layer: Layer, size: int) -> BlockCost:
    """Identity (no op, nothing new allocated) or a 1x1 (stride) conv-BN-act projection (FBNet)."""
    if layer.stride == 1 and layer.in_ch == layer.out_ch:
        return BlockCost((), (layer.in_ch * size ** 2,))
    out = conv_out_size(size, layer.stride)
    op = _pw(layer.in_ch, layer.out_ch, size, stride=layer.stride)
    return BlockCost((op,), (layer.in_ch * size ** 2 + layer.out_ch * out ** 2,))


def _chain_live(ops: tuple[ConvOp, ...], held: int) -> list[int]:
    """Live elements of a sequential chain of convs, each reading the previous output, while ``held`` waits."""
    return [held + op.cin * op.size ** 2 + op.cout * op.out_size ** 2 for op in ops]


def _shuffle_unit_cost(layer: Layer, size: int, main: tuple[ConvOp, ...], proj_kernel: int) -> BlockCost:
    """ShuffleNetV2 unit (Ma et al. 2018): [split | projection] + main branch, concat, channel shuffle(2)."""
    out = conv_out_size(size, layer.stride)
    x, y, y_main = layer.in_ch * size ** 2, layer.out_ch * out ** 2, main[-1].cout * out ** 2
    if layer.stride == 1:
        # The pass-through half is a view of x, so all of x stays alive until the concat.
        proj: tuple[ConvOp, ...] = ()
        live = [x + main[0].cout * main[0].out_size ** 2] + _chain_live(main[1:], held=x)
        live.append(x + y_main + y)  # concat
    else:
        # The projection branch runs first while x waits for the main branch; then its output waits.
        proj = (_dw(layer.in_ch, proj_kernel, size, layer.stride), _pw(layer.in_ch, layer.in_ch, out))
        proj_out = layer.in_ch * out ** 2
        live = _chain_live(proj, held=x) + [proj_out + x + main[0].cout * main[0].out_size ** 2]
        live += _chain_live(main[1:], held=proj_out)
        live.append(proj_out + y_main + y)  # concat
    live.append(2 * y)  # channel shuffle copies
    return BlockCost(proj + main, tuple(live))


def _main_in(layer: Layer) -> int:
    # Stride 1 splits the input in halves and only one goes through the main branch; stride 2 feeds it all.
    return layer.in_ch // 2 if layer.stride == 1 else layer.in_ch


def _shuffle_cost(layer: Layer, size: int) -> BlockCost:
    """SPOS Shuffle k x k: 1x1 -> dw k (stride) -> 1x1 main branch."""
    cin, out = _main_in(layer), conv_out_size(size, layer.stride)
    main = (_pw(cin, layer.mid, size), _dw(layer.mid, layer.kernel, size, layer.stride),
            _pw(layer.mid, layer.out_ch - cin, out))
    return _shuffle_unit_cost(layer, size, main, layer.kernel)


def _xception_cost(layer: Layer, size: int) -> BlockCost:
    """SPOS Shuffle-Xception: (dw3 (stride) -> 1x1) then twice (dw3 -> 1x1) on the main branch."""
    cin, out = _main_in(layer), conv_out_size(size, layer.stride)
    main = (_dw(cin, 3, size, layer.stride), _pw(cin, layer.mid, out), _dw(layer.mid, 3, out),
            _pw(layer.mid, layer.mid, out), _dw(layer.mid, 3, out), _pw(layer.mid, layer.out_ch - cin, out))
    return _shuffle_unit_cost(layer, size, main, 3)


BLOCK_COSTS: dict[str, Callable[[Layer, int], BlockCost]] = {
    "ir": _ir_cost,
    "ds": _ds_cost,
    "dsa": _ds_cost,
    "cn": _cn_cost,
    "skip": _skip_cost,
    "shuffle": _shuffle_cost,
    "xception": _xception_cost,
}
"""Block type -> its cost walk; a new block type in :mod:`hwnas.nn.blocks` needs an entry here too."""


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

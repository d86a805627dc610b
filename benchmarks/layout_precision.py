"""How exact float32 training is in NCHW and in channels_last (NHWC) on the CPU, against a float64 reference.

channels_last is the CPU default of hwnas (``hwnas/train/layout.py``) because it is faster
(``benchmarks/cpu_training_speed.py``); this script says what it costs in precision. Relative L2 error of each
output against the same computation in float64 NCHW, for

* single ops at a mobile network's shapes (batch 128, 96 channels, 14 x 14): BatchNorm in training mode (output,
  input gradient, scale and shift gradients), a depthwise 5 x 5 and a 1 x 1 convolution (output, input and weight
  gradients);
* a whole network: every parameter gradient of one training step (label-smoothed cross-entropy) of a freshly
  initialised member of the FBNet space at 28 px, the largest error over the parameters whose gradient norm
  exceeds 1e-4, and the classifier's weight gradient; plus float64 NHWC against float64 NCHW, which shows whether
  the layout itself (rather than float32 rounding) changes anything.

    .venv/bin/python benchmarks/layout_precision.py             # FBNet member of seed 0, width 1.0
    .venv/bin/python benchmarks/layout_precision.py --quick     # smoke run: batch 8, 16 channels
"""

from __future__ import annotations

import argparse
import copy
import random
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

FORMATS = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}


def _leaf(t: torch.Tensor, fmt: torch.memory_format, dtype: torch.dtype) -> torch.Tensor:
    return t.to(dtype).contiguous(memory_format=fmt).detach().requires_grad_()


def op_cases(batch: int, channels: int, size: int, seed: int = 0) -> dict[str, Callable]:
    """Op name -> ``f(format, dtype)`` returning the op's output and gradients (same inputs every call)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, size, size, generator=g) * 0.5 + 0.3  # post-activation-like: positive mean
    up = torch.randn(batch, channels, size, size, generator=g)  # the gradient arriving from above
    dw, pw = torch.randn(channels, 1, 5, 5, generator=g), torch.randn(channels, channels, 1, 1, generator=g)

    def batch_norm(fmt, dtype):
        bn = nn.BatchNorm2d(channels).to(dtype)
        xx = _leaf(x, fmt, dtype)
        y = bn(xx)
        y.backward(up.to(dtype).contiguous(memory_format=fmt))
        return [y, xx.grad, bn.weight.grad, bn.bias.grad]

    def conv(weight: torch.Tensor, groups: int, padding: int):
        def run(fmt, dtype):
            xx, ww = _leaf(x, fmt, dtype), _leaf(weight, fmt, dtype)
            y = F.conv2d(xx, ww, padding=padding, groups=groups)
            y.backward(up.to(dtype).contiguous(memory_format=fmt))
            return [y, xx.grad, ww.grad]

        return run

    return {"batch norm (y, dx, dscale, dshift)": batch_norm, "depthwise 5x5 conv (y, dx, dw)": conv(dw, channels, 2),
            "1x1 conv (y, dx, dw)": conv(pw, 1, 0)}


def relative_errors(outputs: list[torch.Tensor], reference: list[torch.Tensor]) -> list[float]:
    return [float((a.detach().double() - b.detach().double()).norm() / b.detach().double().norm())
            for a, b in zip(outputs, reference)]


def network_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, fmt: torch.memory_format,
                      dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Parameter gradients of one label-smoothed cross-entropy step of a copy of ``model``."""
    net = copy.deepcopy(model).to(dtype).to(memory_format=fmt).train()
    F.cross_entropy(net(x.to(dtype).contiguous(memory_format=fmt)), y, label_smoothing=0.1).backward()
    return {name: p.grad.double() for name, p in net.named_parameters()}


def network_rows(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[str]:
    ref = network_gradients(model, x, y, torch.contiguous_format, torch.float64)
    big = [n for n, g in ref.items() if g.norm() > 1e-4]
    fc = [n for n in ref if n.endswith("fc.weight")][-1]
    rows = []
    for label, fmt, dtype in (("float32 NCHW", torch.contiguous_format, torch.float32),
                              ("float32 NHWC", torch.channels_last, torch.float32),
                              ("float64 NHWC", torch.channels_last, torch.float64)):
        got = network_gradients(model, x, y, fmt, dtype)
        errors = {n: float((got[n] - ref[n]).norm() / ref[n].norm()) for n in big}
        worst = max(errors, key=errors.get)
        rows.append(f"| {label} | {errors[worst]:.1e} ({worst}) | {errors[fc]:.1e} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 8, 16 channels, a tiny network")
    parser.add_argument("--space", default="fbnet")
    parser.add_argument("--width-mult", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="which member of the space (and its initialisation)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    batch, channels = (8, 16) if args.quick else (128, 96)
    print(f"Relative L2 error against float64 NCHW; CPU, 1 thread, torch {torch.__version__}.\n")
    print(f"| op (batch {batch}, {channels} channels, 14x14) | layout | errors |\n|---|---|---|")
    for name, run in op_cases(batch, channels, 14, args.seed).items():
        reference = run(torch.contiguous_format, torch.float64)
        for layout, fmt in FORMATS.items():
            errors = relative_errors(run(fmt, torch.float32), reference)
            print(f"| {name} | {layout} | {', '.join(f'{e:.1e}' for e in errors)} |")
    from hwnas.nn import build_model
    from hwnas.space.registry import get_space

    space = get_space(args.space, input_size=28, in_channels=1, num_classes=10, width_mult=args.width_mult)
    torch.manual_seed(args.seed)
    model = build_model(space.to_spec(space.sample(random.Random(args.seed))), 10, 1)
    g = torch.Generator().manual_seed(args.seed)
    x, y = torch.randn(batch, 1, 28, 28, generator=g), torch.randint(0, 10, (batch,), generator=g)
    print(f"\nOne training step of a freshly initialised {space.name} member (seed {args.seed}, width "
          f"{args.width_mult:g}, batch {batch}): parameter gradients against float64 NCHW.\n")
    print("| computed in | worst parameter with gradient norm > 1e-4 | classifier weight |\n|---|---|---|")
    print("\n".join(network_rows(model, x, y)))


if __name__ == "__main__":
    main()

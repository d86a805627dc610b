"""Training and evaluation speed on the CPU: contiguous (NCHW) vs channels_last (NHWC), at 1 and 2 threads.

Issue 18, item 5: a training step of an FBNet-space network at 28 px ran about 1.9x faster in channels_last on this
CPU. This script measures it for every workload a search and its final training run: on the FBNet space at
Fashion-MNIST geometry (28 px, 1 channel, 10 classes, width 0.5; random tensors, batch 128),

* ``child train``: a training step (forward, cross-entropy, backward, SGD step with momentum) of a light (10th
  percentile of MACs among 64 uniform samples), a medium (the median) and the heaviest network of the space, built
  by ``hwnas.nn.build_model``;
* ``supernet train``: a single-path step of ``hwnas.supernet.Supernet`` (SPOS, Guo et al. 2019, Sec. 3.2), a new
  uniformly sampled path every step (both layouts see the same paths), with independent weights per candidate
  and entangled (Once-for-All's sliced kernels and channels: ``F.conv2d`` on views of the shared weights);
* ``child eval`` / ``supernet eval``: an evaluation forward (eval mode, no grad), as ``hwnas.train.evaluate`` and
  candidate scoring run it.

Each workload runs in both memory formats (model weights and input batch converted, the batch every step as the
training loop does) and at each thread count (``torch.set_num_threads``). Variants are interleaved within each
repeat (workload by workload: every thread count and layout in turn), each after one untimed warm-up step, so that
the drift of a shared machine hits them alike; the table shows medians over the repeats and the ratio of the two
layouts measured side by side. ``max |diff|`` is the largest difference of the logits between the layouts on one
batch (same weights): float rounding only.

    .venv/bin/python benchmarks/cpu_training_speed.py              # batch 128, 5 repeats of 3 timed steps
    .venv/bin/python benchmarks/cpu_training_speed.py --quick      # smoke run: batch 8, 1 repeat of 1 step
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


@dataclass
class Workload:
    """One thing to time: a model per layout and a step that runs it on a batch."""

    name: str
    models: dict[str, nn.Module]  # layout -> model (same initial weights)
    step: Callable[[nn.Module, torch.Tensor, torch.Tensor, str], None]  # (model, x, y, layout)
    max_diff: float = 0.0
    images_per_s: dict[tuple[int, str], list[float]] = field(default_factory=dict)  # (threads, layout) -> repeats


def _in_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    return x.contiguous(memory_format=LAYOUTS[layout])


def _twins(model: nn.Module) -> dict[str, nn.Module]:
    """The model in each layout, with identical weights (``.to(memory_format=...)`` only changes strides)."""
    return {layout: copy.deepcopy(model).to(memory_format=fmt) for layout, fmt in LAYOUTS.items()}


def _train_step(optimizers: dict[int, torch.optim.Optimizer]) -> Callable:
    def step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, layout: str) -> None:
        optimizer = optimizers[id(model)]
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(_in_layout(x, layout)), y).backward()
        optimizer.step()

    return step


@torch.no_grad()
def _eval_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, layout: str) -> None:
    model(_in_layout(x, layout)).argmax(1)


def pick_children(space, samples: int = 64, seed: int = 0) -> dict[str, dict]:
    """Light (10th percentile of MACs), medium (median) among ``samples`` uniform members, and the heaviest."""
    from hwnas.cost import count_macs

    g = space.geometry
    rng = random.Random(seed)
    choices = [space.sample(rng) for _ in range(samples)]
    choices.sort(key=lambda c: count_macs(space.to_spec(c), g.input_size, g.num_classes, g.in_channels))
    return {"light": choices[len(choices) // 10], "medium": choices[len(choices) // 2], "heaviest": space.heaviest()}


def make_workloads(space, seed: int = 0) -> list[Workload]:
    """The child training steps, the supernet single-path step, and the evaluation forwards."""
    from hwnas.nn import build_model
    from hwnas.supernet import Supernet

    g = space.geometry
    torch.manual_seed(seed)
    children = {name: build_model(space.to_spec(c), g.num_classes, g.in_channels)
                for name, c in pick_children(space, seed=seed).items()}
    supernet = Supernet(space)
    supernet.set_active(space.sample(random.Random(seed + 1)))  # the path the layouts are compared on
    workloads = []
    for name, child in children.items():
        models = _twins(child.train())
        optimizers = {id(m): torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in models.values()}
        workloads.append(Workload(f"child train ({name})", models, _train_step(optimizers)))
    workloads.append(_single_path_workload("supernet train (single path)", supernet, space, seed))
    entangled = Supernet(space, sharing="entangled")  # sliced kernels and channels: F.conv2d on weight views
    entangled.set_active(space.sample(random.Random(seed + 1)))
    workloads.append(_single_path_workload("supernet train (entangled, single path)", entangled, space, seed))
    medium = children["medium"]
    workloads.append(Workload("child eval (medium)", _twins(medium.eval()), _eval_step))
    workloads.append(Workload("supernet eval (one path)", _twins(supernet.eval()), _eval_step))
    return workloads


def _single_path_workload(name: str, supernet: nn.Module, space, seed: int) -> Workload:
    """SPOS supernet training (Guo et al. 2019, Sec. 3.2): a new uniformly sampled path every step."""
    models = _twins(supernet.train())
    optimizers = {id(m): torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in models.values()}
    train = _train_step(optimizers)
    paths = {layout: random.Random(seed) for layout in LAYOUTS}  # the same sequence of paths in both layouts

    def single_path(model: nn.Module, x: torch.Tensor, y: torch.Tensor, layout: str) -> None:
        model.set_active(space.sample(paths[layout]))
        train(model, x, y, layout)

    return Workload(name, models, single_path)


@torch.no_grad()
def layout_difference(workload: Workload, x: torch.Tensor) -> float:
    """Max |logits(contiguous) - logits(channels_last)| on one batch, before any timed step changes the weights."""
    outs = []
    for layout, model in workload.models.items():
        was = model.training
        model.eval()  # running statistics, so the comparison does not touch them
        outs.append(model(_in_layout(x, layout)))
        model.train(was)
    return float((outs[0] - outs[1]).abs().max())


def measure(workloads: list[Workload], x: torch.Tensor, y: torch.Tensor, threads: list[int], repeats: int,
            steps: int) -> None:
    """Fill each workload's images/s: per repeat, every (threads, layout) variant of a workload in turn."""
    for w in workloads:
        w.max_diff = layout_difference(w, x)
    for r in range(repeats):
        print(f"repeat {r + 1}/{repeats}", file=sys.stderr, flush=True)
        for w in workloads:
            for n in threads:
                torch.set_num_threads(n)
                for layout, model in w.models.items():
                    w.step(model, x, y, layout)  # warm-up: thread pool, allocator, oneDNN primitive cache
                    start = time.perf_counter()
                    for _ in range(steps):
                        w.step(model, x, y, layout)
                    rate = steps * x.shape[0] / (time.perf_counter() - start)
                    w.images_per_s.setdefault((n, layout), []).append(rate)


def format_table(workloads: list[Workload], batch: int, repeats: int, steps: int, threads: list[int],
                 load: str, space: str = "fbnet", width: float = 0.5) -> str:
    """Markdown: median images/s per layout and thread count, and channels_last / contiguous side by side."""
    lines = [
        f"{space} space, width {width:g}, 28 px x 1 channel, 10 classes, batch {batch}, CPU ({os.cpu_count()} "
        f"cores), torch "
        f"{torch.__version__}; median images/s of {repeats} repeats x {steps} steps, every variant interleaved "
        f"in each repeat (ratios are side by side in one run). Load average before the run: {load}.",
        "",
        "| workload | threads | contiguous img/s | channels_last img/s | channels_last / contiguous "
        "| min-max ratio over repeats | max \\|diff\\| logits |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for w in workloads:
        for n in threads:
            base, cl = w.images_per_s[(n, "contiguous")], w.images_per_s[(n, "channels_last")]
            ratios = [b / a for a, b in zip(base, cl)]
            lines.append(f"| {w.name} | {n} | {statistics.median(base):.0f} | {statistics.median(cl):.0f} | "
                         f"{statistics.median(cl) / statistics.median(base):.2f} | "
                         f"{min(ratios):.2f}-{max(ratios):.2f} | {w.max_diff:.1e} |")
    return "\n".join(lines)


def _load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 8, 1 repeat of 1 step")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (the median is reported)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant and repeat")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch intra-op thread counts")
    parser.add_argument("--space", default="fbnet", help="search space (the issue's figures: fbnet)")
    parser.add_argument("--width-mult", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.repeats, args.steps = 8, 1, 1
    if min(args.batch, args.repeats, args.steps, *args.threads) < 1:
        parser.error("--batch, --repeats, --steps and --threads must be >= 1")
    from hwnas.space.registry import get_space  # here so that the module imports without the registry

    load = _load()
    space = get_space(args.space, input_size=28, in_channels=1, num_classes=10, width_mult=args.width_mult)
    workloads = make_workloads(space, args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (args.batch,), generator=gen)
    measure(workloads, x, y, args.threads, args.repeats, args.steps)
    print(format_table(workloads, args.batch, args.repeats, args.steps, args.threads, load, space.name,
                       args.width_mult))


if __name__ == "__main__":
    main()

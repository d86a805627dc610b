"""Training-step time and saved-activation memory of the supernet modes, relative to the extracted child.

For each space at Fashion-MNIST geometry (28 px, 1 channel, 10 classes; random tensors), one fixed sampled choice
is trained five ways, each a full step (forward, cross-entropy, backward, SGD step):

* ``child``: ``Supernet.extract(choice)``, a plain network;
* ``single path``: the supernet after ``set_active(choice)`` (SPOS / HardCoRe-NAS pretraining);
* ``gated path (k=1)``: ``forward_sampled(k=1)``, one sampled path behind a straight-through binary gate
  (ProxylessNAS / GDAS);
* ``two-path sample``: ``forward_sampled(k=2)`` on softmax probabilities (TF-NAS bi-sampling / ProxylessNAS);
* ``full mixture``: ``forward_mixture`` on softmax weights, every candidate (FBNet).

The choice is sampled, then set to full depth: the mixture modes use the choice's widths and sink-connecting depth
weights, which run every block of a stage, so the child runs every block too.
Modes run in interleaved rounds (A B C D E A B C D E ...) after warm-up, and the table shows medians. Memory is the
bytes autograd saves for backward (unique tensor storages seen by ``torch.autograd.graph.saved_tensors_hooks``
during one forward, parameters excluded): the activation memory a training step holds at its peak, which is what
differs between the modes; it is deterministic, unlike RSS on a shared machine.

    .venv/bin/python benchmarks/supernet_speed.py            # batch 128, 2 warm-up + 7 timed rounds
    .venv/bin/python benchmarks/supernet_speed.py --quick    # smoke run: batch 8, 1 + 1 rounds
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hwnas.space import SearchSpace
from hwnas.space.labels import depth_label
from hwnas.supernet import Supernet

MODES = ("child", "single path", "gated path (k=1)", "two-path sample", "full mixture")
SPACES = ("fbnet", "hardcore", "tfnas", "spos")


@dataclass
class Row:
    space: str
    mode: str
    ms: list[float]  # one per timed round
    saved_bytes: int


def _arch_probs(space: SearchSpace, gen: torch.Generator) -> tuple[dict, dict]:
    """Random op and depth logits with gradients, as a search method would own them."""
    ops = {s.op_label: torch.randn(len(s.candidates), generator=gen).requires_grad_() for s in space.slots()}
    depths = {depth_label(s): torch.randn(len(stage) - space.min_depth[s] + 1, generator=gen).requires_grad_()
              for s, stage in enumerate(space.slots_by_stage) if s in space.min_depth}
    return ops, depths


def make_forwards(space: SearchSpace, x: torch.Tensor, seed: int) -> tuple[dict[str, Callable], dict, list]:
    """Mode -> zero-argument forward returning logits; mode -> the module its SGD step updates; the arch logits."""
    net = Supernet(space).train()
    choice = space.sample(random.Random(seed))
    # Full depth: the mixture modes run every block of a stage (sink-connecting), so the child must too, or the
    # ratios would mix the cost of the op mixture with that of the extra blocks.
    choice.update({depth_label(s): len(stage) for s, stage in enumerate(space.slots_by_stage) if s in space.min_depth})
    net.set_active(choice)
    child = net.extract(choice).train()
    ops, depths = _arch_probs(space, torch.Generator().manual_seed(seed))
    widths = {s.width_label: choice[s.width_label] for s in space.slots() if s.widths is not None}
    sampler = torch.Generator().manual_seed(seed)

    def probs(logits: dict) -> dict:  # inside the step, so the softmax is part of the timed graph
        return {label: torch.softmax(w, 0) for label, w in logits.items()}

    forwards = {
        "child": lambda: child(x),
        "single path": lambda: net(x),
        "gated path (k=1)": lambda: net.forward_sampled(x, probs(ops), 1, generator=sampler,
                                                          depth_weights=probs(depths), widths=widths),
        "two-path sample": lambda: net.forward_sampled(x, probs(ops), 2, generator=sampler,
                                                         depth_weights=probs(depths), widths=widths),
        "full mixture": lambda: net.forward_mixture(x, probs(ops), probs(depths), widths),
    }
    models = {mode: child if mode == "child" else net for mode in MODES}
    return forwards, models, [*ops.values(), *depths.values()]


def saved_activation_bytes(forward: Callable[[], torch.Tensor], params: Sequence[torch.Tensor]) -> int:
    """Bytes of the distinct storages autograd saves for backward during ``forward()``, parameters excluded."""
    param_storages = {p.untyped_storage().data_ptr() for p in params}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in param_storages:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(seen.values())


def measure(name: str, space: SearchSpace, batch: int, rounds: int, warmup: int, seed: int = 0) -> list[Row]:
    """Interleaved timing of the modes on one space; one row per mode."""
    size, channels, classes = space.geometry.input_size, space.geometry.in_channels, space.geometry.num_classes
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, size, size, generator=gen)
    y = torch.randint(0, classes, (batch,), generator=gen)
    forwards, models, arch = make_forwards(space, x, seed)
    optimizers = {mode: torch.optim.SGD(models[mode].parameters(), lr=1e-3, momentum=0.9) for mode in MODES}

    def step(mode: str) -> None:
        optimizers[mode].zero_grad(set_to_none=True)
        for t in arch:  # search methods step these separately; here they only collect gradients
            t.grad = None
        F.cross_entropy(forwards[mode](), y).backward()
        optimizers[mode].step()

    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for r in range(warmup + rounds):
        for mode in MODES:  # interleaved, so machine noise hits every mode alike
            start = time.perf_counter()
            step(mode)
            if r >= warmup:
                times[mode].append(1000 * (time.perf_counter() - start))
    return [Row(name, mode, times[mode], saved_activation_bytes(forwards[mode], list(models[mode].parameters())))
            for mode in MODES]


def format_table(rows: list[Row], batch: int, rounds: int, warmup: int,
                 geometry: str = "28 px x 1 channel, 10 classes") -> str:
    """Markdown: median ms/step and ratio vs the child; saved activation MiB and ratio vs the child."""
    lines = [
        f"Training step (forward + backward + SGD), batch {batch}, {geometry}, CPU, "
        f"{torch.get_num_threads()} thread(s), torch {torch.__version__}; median of {rounds} interleaved rounds "
        f"after {warmup} warm-up. Targets: single path <= 1.2x child, two-path <= 2.5x child.",
        "",
        "| space | mode | ms/step (median) | min-max ms | x child | saved activations MiB (autograd "
        "saved_tensors_hooks, params excluded) | x child |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    by_space: dict[str, list[Row]] = {}
    for row in rows:
        by_space.setdefault(row.space, []).append(row)
    for space, group in by_space.items():
        base = next(r for r in group if r.mode == "child")
        base_ms = statistics.median(base.ms)
        for r in group:
            med = statistics.median(r.ms)
            lines.append(f"| {space} | {r.mode} | {med:.1f} | {min(r.ms):.1f}-{max(r.ms):.1f} | "
                         f"{med / base_ms:.2f} | {r.saved_bytes / 2**20:.1f} | "
                         f"{r.saved_bytes / max(base.saved_bytes, 1):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: batch 8, 1 warm-up + 1 timed round")
    parser.add_argument("--spaces", nargs="+", default=list(SPACES), help="space names (default: all four)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=7, help="timed interleaved rounds (>= 5 for a report)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--width-mult", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: stable on shared CPUs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.rounds, args.warmup = 8, 1, 1
    if min(args.batch, args.rounds) < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--batch, --rounds and --threads must be >= 1, --warmup >= 0")
    from hwnas.space.registry import get_space  # here so that the module imports without the registry

    torch.set_num_threads(args.threads)
    rows = []
    for name in args.spaces:
        space = get_space(name, input_size=28, in_channels=1, num_classes=10, width_mult=args.width_mult)
        rows += measure(name, space, args.batch, args.rounds, args.warmup, args.seed)
    print(format_table(rows, args.batch, args.rounds, args.warmup))


if __name__ == "__main__":
    main()

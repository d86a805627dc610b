"""Does a one-shot supernet learn in a CPU-sized budget? Mean training loss per ``--every`` steps, side by side.

The FBNet space at width 0.5 on 28-px Fashion-MNIST (6,000 images, batch 128), the search methods' weight
optimiser (``WeightTrainer``: SGD, Nesterov momentum, cosine), the same batches and seed for every row:

* ``fixed``: one path for every step (a standalone network, sharing nothing);
* ``alternate``: two fixed paths taking turns;
* ``uniform``: a new uniformly sampled path every step (SPOS, Guo et al. 2019, Sec. 3.2), with independent
  weights per candidate (``independent``) or entangled ones (``entangled``, Once-for-All weight sharing), with and
  without zero-initialised residual branches (``zero-init``, BigNAS), at two learning rates for the baseline;
* ``sandwich``: the largest, the smallest and two uniform paths per step, the largest's soft labels teaching the
  others (BigNAS sandwich rule with in-place distillation), entangled and zero-initialised.

The loss of a row is that of the paths it trains (for ``sandwich``: the mean over its four paths, of which three
are distilled towards the largest); a uniform row's loss is that of random members of the space, the population
a one-shot search scores.

    .venv/bin/python benchmarks/supernet_learning.py --steps 240 --every 40
"""

from __future__ import annotations

import argparse
import random
import time

import torch
import torch.nn.functional as F

from hwnas.search.context import search_loaders
from hwnas.search.parts.engine import WeightTrainer
from hwnas.search.parts.sandwich import sandwich_loss, sandwich_paths
from hwnas.space import get_space
from hwnas.supernet import Supernet


def curve(space, batches, pick, steps: int, lr: float, every: int, sandwich: bool = False,
          **supernet_options) -> list[float]:
    torch.manual_seed(0)
    supernet = Supernet(space, **supernet_options).train()
    trainer = WeightTrainer(supernet, steps, lr=lr)
    rng, losses = random.Random(0), []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        if sandwich:
            paths = sandwich_paths(space.heaviest(), space.lightest(), lambda: space.sample(rng), 2)
            losses.append(trainer.update(lambda: sandwich_loss(supernet, x, y, paths, distill=True)) / len(paths))
            continue
        supernet.set_active(pick(step, rng))
        losses.append(trainer.update(lambda: F.cross_entropy(supernet(x), y)))
    return [sum(losses[i:i + every]) / len(losses[i:i + every]) for i in range(0, steps, every)]


def rows(space) -> dict:
    r = random.Random(1)
    a, b = space.sample(r), space.sample(r)

    def uniform(s, rng):
        return space.sample(rng)

    entangled = {"sharing": "entangled"}
    zero = {"zero_init_residual": True}
    return {
        "fixed (lr 0.05)": (lambda s, rng: a, 0.05, {}),
        "alternate 2 paths (lr 0.05)": (lambda s, rng: a if s % 2 else b, 0.05, {}),
        "uniform, independent (lr 0.05)": (uniform, 0.05, {}),
        "uniform, independent (lr 0.01)": (uniform, 0.01, {}),
        "uniform, independent, zero-init (lr 0.05)": (uniform, 0.05, zero),
        "uniform, entangled (lr 0.05)": (uniform, 0.05, entangled),
        "uniform, entangled, zero-init (lr 0.05)": (uniform, 0.05, {**entangled, **zero}),
        "sandwich + distillation, entangled, zero-init (lr 0.05)": (None, 0.05, {**entangled, **zero}),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default="", help="run only the rows whose name contains this text")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    space = get_space("fbnet", 28, 1, 10, 0.5)
    batches = list(search_loaders("fashion-mnist", 128, seed=0, limit=6000, progress=False).train.epoch_batches(0))
    print(f"| paths | mean loss per {args.every} steps | seconds |\n|---|---|---|")
    for name, (pick, lr, options) in rows(space).items():
        if args.only not in name:
            continue
        started = time.perf_counter()
        values = curve(space, batches, pick, args.steps, lr, args.every, sandwich=pick is None, **options)
        print(f"| {name} | {' -> '.join(f'{v:.3f}' for v in values)} | {time.perf_counter() - started:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()

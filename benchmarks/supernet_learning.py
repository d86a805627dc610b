"""Does a uniformly sampled single-path supernet learn in a CPU-sized budget? Loss per 10-20 steps, side by side.

The FBNet space at width 0.5 on 28-px Fashion-MNIST (6,000 images, batch 128), the search methods' weight
optimiser (``WeightTrainer``: SGD, Nesterov momentum, cosine), the same batches for every row:

* ``fixed``: one path for every step (a standalone network, sharing nothing);
* ``alternate``: two fixed paths taking turns;
* ``uniform``: a new uniformly sampled path every step (SPOS, Guo et al. 2019, Sec. 3.2), at two learning rates.

    .venv/bin/python benchmarks/supernet_learning.py --steps 120
"""

from __future__ import annotations

import argparse
import random

import torch
import torch.nn.functional as F

from hwnas.search.context import search_loaders
from hwnas.search.parts.engine import WeightTrainer
from hwnas.space import get_space
from hwnas.supernet import Supernet


def curve(space, batches, pick, steps: int, lr: float, every: int) -> list[float]:
    torch.manual_seed(0)
    supernet = Supernet(space).train()
    trainer = WeightTrainer(supernet, steps, lr=lr)
    rng, losses = random.Random(0), []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        supernet.set_active(pick(step, rng))
        losses.append(trainer.update(lambda: F.cross_entropy(supernet(x), y)))
    return [sum(losses[i:i + every]) / len(losses[i:i + every]) for i in range(0, steps, every)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    space = get_space("fbnet", 28, 1, 10, 0.5)
    batches = list(search_loaders("fashion-mnist", 128, seed=0, limit=6000, progress=False).train.epoch_batches(0))
    r = random.Random(1)
    a, b = space.sample(r), space.sample(r)
    rows = {"fixed (lr 0.05)": (lambda s, rng: a, 0.05), "alternate 2 paths (lr 0.05)": (lambda s, rng: a if s % 2
                                                                                          else b, 0.05),
            "uniform (lr 0.05)": (lambda s, rng: space.sample(rng), 0.05),
            "uniform (lr 0.01)": (lambda s, rng: space.sample(rng), 0.01)}
    print(f"| paths | mean loss per {args.every} steps |\n|---|---|")
    for name, (pick, lr) in rows.items():
        values = curve(space, batches, pick, args.steps, lr, args.every)
        print(f"| {name} | {' -> '.join(f'{v:.3f}' for v in values)} |", flush=True)


if __name__ == "__main__":
    main()
